import type { SupergraphSdlHook } from '@apollo/gateway';
import { type AccessPolicy, accessPolicyOf } from '@tenantgraph/core';
import { Kind, parse, print, visit } from 'graphql';

// Features whose directives only say who may select what. Composition links them `for: SECURITY`,
// which tells a gateway "refuse this supergraph unless you enforce it"; @apollo/gateway enforces
// neither, so it refuses. We enforce them ourselves (accessControl), so the gateway gets the
// same supergraph with the purpose dropped from these links, and nothing else changed.
const ENFORCED_HERE = ['https://specs.apollo.dev/authenticated/', 'https://specs.apollo.dev/requiresScopes/'];

/**
 * A composed supergraph as @apollo/gateway can load it, and the access policy its
 * `@authenticated` / `@requiresScopes` applications declare. A supergraph without those
 * features comes back unchanged.
 */
export function supergraphForGateway(supergraphSdl: string): { supergraphSdl: string; policy: AccessPolicy } {
  const document = parse(supergraphSdl);
  const policy = accessPolicyOf(document);
  let changed = false;
  const loadable = visit(document, {
    Directive(node) {
      if (node.name.value !== 'link') return undefined;
      const url = node.arguments?.find((argument) => argument.name.value === 'url')?.value;
      if (url?.kind !== Kind.STRING || !ENFORCED_HERE.some((spec) => url.value.startsWith(spec))) return undefined;
      changed = true;
      return { ...node, arguments: node.arguments?.filter((argument) => argument.name.value !== 'for') };
    },
  });
  return { supergraphSdl: changed ? print(loadable) : supergraphSdl, policy };
}

/**
 * Wraps a supergraph source (file, URL, fixed text) so every supergraph, the first and each
 * reload, goes through `supergraphForGateway`; `policy()` is the policy of the supergraph the
 * gateway serves, swapped only once the gateway has accepted the new one.
 * @example const access = withAccessPolicy(supergraphFromFile(path, logger)); new ApolloGateway({ supergraphSdl: access.hook })
 */
export function withAccessPolicy(source: SupergraphSdlHook): { hook: SupergraphSdlHook; policy(): AccessPolicy } {
  let policy: AccessPolicy = new Map();
  const hook: SupergraphSdlHook = async (options) => {
    const result = await source({
      ...options,
      update(sdl) {
        const next = supergraphForGateway(sdl);
        // Throws when the gateway refuses the supergraph: the current policy stays with the current schema.
        options.update(next.supergraphSdl);
        policy = next.policy;
      },
    });
    const first = supergraphForGateway(result.supergraphSdl);
    policy = first.policy;
    return { ...result, supergraphSdl: first.supergraphSdl };
  };
  return { hook, policy: () => policy };
}
