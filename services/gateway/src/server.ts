import { ApolloGateway, type SupergraphSdlHook } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { TokenVerifier } from '@tenantgraph/auth';
import { type Logger, type TenantRegistry, unknownTenant } from '@tenantgraph/core';
import { closeGracefully, createGraphQLHttpServer, listen, logUnexpectedErrors, maskError, sendJson } from '@tenantgraph/server-kit';
import type { GatewayContext } from './context.ts';
import { TenantDataSource } from './datasource.ts';
import { createSubgraphFetcher } from './fetcher.ts';

export { staticSupergraph, supergraphFromFile } from './supergraph.ts';

export type GatewayServerDeps = {
  supergraph: SupergraphSdlHook;
  verifier: TokenVerifier;
  registry: TenantRegistry;
  logger: Logger;
  /** Routing URLs by subgraph name, replacing those in the supergraph (containers, tests). */
  subgraphUrls?: Record<string, string>;
  subgraphTimeoutMs?: number;
  maxSocketsPerSubgraph?: number;
  /** Production hides introspection and schema hints from clients. */
  production?: boolean;
};

/**
 * The gateway: one endpoint for every frontend. It verifies the token and the tenant before
 * any subgraph is called (401 / 403), plans the query over the supergraph and sends each
 * subgraph the caller's token, tenant and request id.
 */
export function createGatewayServer(deps: GatewayServerDeps) {
  const { logger, subgraphUrls = {}, production = false } = deps;
  const fetcher = createSubgraphFetcher({
    maxSockets: deps.maxSocketsPerSubgraph ?? 64,
    timeoutMs: deps.subgraphTimeoutMs ?? 5_000,
  });
  const gateway = new ApolloGateway({
    supergraphSdl: deps.supergraph,
    buildService: ({ name, url }) => new TenantDataSource({ url: subgraphUrls[name] ?? url, fetcher }),
    logger: { debug: () => {}, info: (m) => logger.info(String(m)), warn: (m) => logger.warn(String(m)), error: (m) => logger.error(String(m)) },
  });
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    formatError: maskError,
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
    introspection: !production,
    hideSchemaDetailsFromClientErrors: production,
    plugins: [ApolloServerPluginLandingPageDisabled(), logUnexpectedErrors(logger)],
  });
  const http = createGraphQLHttpServer<GatewayContext>({
    apollo,
    logger,
    async authenticate(req, requestId) {
      const viewer = await deps.verifier.verify(req.headers.authorization);
      if (!(await deps.registry.get(viewer.tenantId))) throw unknownTenant();
      return { viewer, requestId, logger: logger.child({ requestId, tenant: viewer.tenantId }) };
    },
    // Every answer is one tenant's data: no shared cache may keep it.
    responseHeaders: { 'cache-control': 'private, no-store' },
    routes: {
      'GET /health': (_req, res) => sendJson(res, 200, { status: 'ok', service: 'gateway' }),
    },
  });

  return {
    async start(port: number, host?: string) {
      await apollo.start();
      const bound = await listen(http, port, host);
      logger.info('listening', { port: bound });
      return bound;
    },
    async stop() {
      await closeGracefully(http);
      await apollo.stop();
    },
  };
}
