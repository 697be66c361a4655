import type { IncomingMessage } from 'node:http';
import { ApolloServer } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from "@apollo/subgraph/dist/schema-helper/resolverMap.js";
import type { TokenVerifier } from '@tenantgraph/auth';
import type { DatabaseRouter } from '@tenantgraph/database';
import { type Logger, type Viewer, accessPolicyOf, requireSameTenant } from '@tenantgraph/core';
import { type DocumentNode, GraphQLError, GraphQLScalarType, Kind, type ValidationRule } from 'graphql';
import { accessControl } from './access.ts';
import { logUnexpectedErrors, maskError } from './errors.ts';
import { type Route, closeGracefully, createGraphQLHttpServer, listen, sendJson } from './http.ts';
import type { Metrics } from './metrics.ts';

/** What every subgraph resolver can rely on: a verified viewer and its tenant. */
export type SubgraphContext = {
  viewer: Viewer;
  /** Always `viewer.tenantId`: the tenant comes from the verified token and nowhere else. */
  tenantId: string;
  requestId: string;
  logger: Logger;
};

export type SubgraphServerOptions<C extends SubgraphContext> = {
  name: string;
  typeDefs: DocumentNode;
  resolvers: GraphQLResolverMap<C>;
  verifier: TokenVerifier;
  logger: Logger;
  metrics: Metrics;
  /** Adds the service's data access to the base context; throws UNKNOWN_TENANT for an unknown tenant. */
  createContext(base: SubgraphContext, req: IncomingMessage): Promise<C>;
  /** Readiness: the database answers and its migrations are applied. Throws when not ready. */
  ready(): Promise<void>;
  /** Extra routes, e.g. the tenant registry. */
  routes?: Record<string, Route>;
  /** Closes what the service opened (database pools). */
  onStop?(): Promise<void>;
};

/** What a data subgraph's server is built from: its tenant-routed databases and the platform parts. */
export type DataSubgraphDeps<DB> = {
  databases: DatabaseRouter<DB>;
  verifier: TokenVerifier;
  logger: Logger;
  metrics: Metrics;
  /** Readiness: throws while the shared database is unreachable or behind on migrations. */
  ready(): Promise<void>;
};

export type SubgraphServer = {
  /** Listens on `port` (0 for any free one) and resolves with the bound port. */
  start(port: number, host?: string): Promise<number>;
  /** Drains in-flight requests, then closes the server and the service's resources. */
  stop(): Promise<void>;
};

/**
 * A federation subgraph over `node:http`. Every GraphQL request needs a valid bearer token:
 * without one the answer is 401 before the body is read. `/health` is liveness, `/ready`
 * readiness, `/metrics` Prometheus.
 */
export function createSubgraphServer<C extends SubgraphContext>(options: SubgraphServerOptions<C>): SubgraphServer {
  const { name, logger, metrics } = options;
  // Zero trust: the subgraph enforces its own SDL's @authenticated / @requiresScopes, whoever calls it.
  const policy = accessPolicyOf(options.typeDefs);
  const apollo = new ApolloServer<C>({
    schema: buildSubgraphSchema({ typeDefs: options.typeDefs, resolvers: options.resolvers as GraphQLResolverMap<unknown> }),
    formatError: maskError,
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
    // Composition reads the SDL files and the gateway runs on a static supergraph: nobody needs
    // a subgraph to describe itself, so neither introspection nor `_service` is served.
    introspection: false,
    validationRules: [noServiceSdl],
    hideSchemaDetailsFromClientErrors: true,
    allowBatchedHttpRequests: false,
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      // Inline traces would hand resolver timings to any caller who asks for them.
      ApolloServerPluginInlineTraceDisabled(),
      // Every answer is one tenant's and never cached; cache hints would only wrap every resolver.
      ApolloServerPluginCacheControlDisabled(),
      metrics.plugin,
      accessControl<C>(() => policy),
      logUnexpectedErrors(logger),
    ],
  });
  const http = createGraphQLHttpServer<C>({
    apollo,
    logger,
    async authenticate(req, requestId) {
      const viewer = await options.verifier.verify(req.headers.authorization);
      const base: SubgraphContext = {
        viewer,
        tenantId: viewer.tenantId,
        requestId,
        logger: logger.child({ requestId, tenant: viewer.tenantId }),
      };
      return options.createContext(base, req);
    },
    around: (context, run) => metrics.track(context.tenantId, run),
    routes: {
      'GET /health': (_req, res) => sendJson(res, 200, { status: 'ok', service: name }),
      'GET /ready': async (_req, res) => {
        try {
          await options.ready();
          sendJson(res, 200, { status: 'ready', service: name });
        } catch (error) {
          logger.warn('not ready', { error });
          sendJson(res, 503, { status: 'not ready', service: name });
        }
      },
      'GET /metrics': metrics.route,
      ...options.routes,
    },
  });

  return {
    async start(port, host) {
      await apollo.start();
      const bound = await listen(http, port, host);
      logger.info('listening', { port: bound });
      return bound;
    },
    async stop() {
      await closeGracefully(http);
      await apollo.stop();
      await options.onStop?.();
    },
  };
}

/**
 * Refuses `_service` (the subgraph's SDL, with every type and directive): composition is from
 * the committed schema files only, so no caller, the gateway included, ever needs it.
 */
export const noServiceSdl: ValidationRule = (context) => ({
  Field(node) {
    if (node.name.value === '_service') {
      context.reportError(new GraphQLError('Cannot query field "_service": composition is from schema files.', { nodes: [node] }));
    }
  },
});

/**
 * `Tenant` as every subgraph resolves it by key: only the caller's own tenant, any other is
 * FORBIDDEN, and no row is read to decide.
 */
export const tenantEntityResolvers = {
  __resolveReference(reference: { id: string }, context: SubgraphContext) {
    requireSameTenant(context.viewer, reference.id);
    return { id: reference.id };
  },
};

/** `DateTime`: an ISO-8601 timestamp with time zone. */
export const DateTime = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  description: 'An ISO-8601 timestamp, e.g. 2026-11-22T10:00:00.000Z',
  serialize(value) {
    const date = value instanceof Date ? value : new Date(value as string);
    if (Number.isNaN(date.getTime())) throw new TypeError('DateTime cannot represent an invalid date');
    return date.toISOString();
  },
  parseValue(value) {
    const date = new Date(value as string);
    if (typeof value !== 'string' || Number.isNaN(date.getTime())) throw new TypeError('DateTime must be an ISO-8601 string');
    return date;
  },
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw new TypeError('DateTime must be an ISO-8601 string');
    const date = new Date(ast.value);
    if (Number.isNaN(date.getTime())) throw new TypeError('DateTime must be an ISO-8601 string');
    return date;
  },
});
