import { createRequire } from 'node:module';
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { type AccessDenial, type AccessPolicy, accessDenied, deniedFields, type Viewer } from '@tenantgraph/core';
import type { GraphQLSchema, OperationDefinitionNode } from 'graphql';
import type { ResolvedOperation } from './executor.ts';

// @apollo/server keeps an error thrown here as it is only if it is an `instanceof` the
// GraphQLError of the graphql it loads, the CommonJS build (graphql has no "exports" map);
// otherwise it wraps it and the path is lost. Under vitest an ESM `import` of graphql can be
// the other build, so the error is thrown with the CommonJS class, whoever runs this.
const { GraphQLError } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

/** Each operation's first denied field by the caller's scopes (null: none), for the schema and policy it was checked against. */
const firstDenials = new WeakMap<
  OperationDefinitionNode,
  { schema: GraphQLSchema; policy: AccessPolicy; byScopes: Map<string, AccessDenial | null> }
>();
/** The scopes key of a caller without a token (no scope set is spelled this way). */
const ANONYMOUS = '\u0000anonymous';

/**
 * Throws FORBIDDEN, naming the field's path, when the operation selects a field of the access
 * policy (the schema's `@authenticated` and `@requiresScopes`) that the viewer may not select.
 * @example checks: [(op, context) => checkAccess(op, accessPolicyOf(typeDefs), context.viewer)]
 */
export function checkAccess(
  { schema, document, operation }: Pick<ResolvedOperation, 'schema' | 'document' | 'operation'>,
  policy: AccessPolicy,
  viewer: Viewer | undefined,
): void {
  // The answer depends on the operation, the schema, the policy and the caller's scopes only: a
  // document cached by its server (the same node each time) is walked once per set of scopes.
  let known = firstDenials.get(operation);
  if (!known || known.schema !== schema || known.policy !== policy) {
    known = { schema, policy, byScopes: new Map() };
    firstDenials.set(operation, known);
  }
  const scopes = viewer ? viewer.scopes.join(' ') : ANONYMOUS;
  let denied = known.byScopes.get(scopes);
  if (denied === undefined) {
    denied = deniedFields(schema, document, operation, policy, viewer)[0] ?? null;
    // Bounded: a caller choosing its scopes cannot grow it past this.
    if (known.byScopes.size >= 64) known.byScopes.clear();
    known.byScopes.set(scopes, denied);
  }
  if (!denied) return;
  const { message, extensions, path } = accessDenied(denied, viewer);
  throw new GraphQLError(message, { extensions, ...(path ? { path } : {}) });
}

/**
 * `checkAccess` as an Apollo Server plugin (the gateway): once an operation is validated and
 * before anything is planned or resolved, a field the caller may not select fails the whole operation.
 * @example plugins: [accessControl(() => accessPolicyOf(typeDefs))]
 */
export function accessControl<C extends BaseContext & { viewer?: Viewer }>(policy: () => AccessPolicy): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operation, contextValue }) {
          if (operation) checkAccess({ schema, document, operation }, policy(), contextValue.viewer);
        },
      };
    },
  };
}
