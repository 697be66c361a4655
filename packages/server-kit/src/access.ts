import { createRequire } from 'node:module';
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { type AccessPolicy, accessDenied, deniedFields, type Viewer } from '@tenantgraph/core';
import type { ResolvedOperation } from './executor.ts';

// @apollo/server keeps an error thrown here as it is only if it is an `instanceof` the
// GraphQLError of the graphql it loads, the CommonJS build (graphql has no "exports" map);
// otherwise it wraps it and the path is lost. Under vitest an ESM `import` of graphql can be
// the other build, so the error is thrown with the CommonJS class, whoever runs this.
const { GraphQLError } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

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
  const [denied] = deniedFields(schema, document, operation, policy, viewer);
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
