import { createTokenVerifier } from '@tenantgraph/auth';
import { createLogger, createRegistryClient } from '@tenantgraph/core';
import { stopOnSignals } from '@tenantgraph/server-kit';
import { environment as env, subgraphUrls } from './environment.ts';
import { createGatewayServer, supergraphFromFile } from './server.ts';

const logger = createLogger({ service: 'gateway' });
const server = createGatewayServer({
  supergraph: supergraphFromFile(env.SUPERGRAPH_PATH, logger),
  verifier: createTokenVerifier({ issuer: env.AUTH_ISSUER, audience: env.AUTH_AUDIENCE, jwksUrl: env.AUTH_JWKS_URL }),
  registry: createRegistryClient({ url: env.TENANT_REGISTRY_URL, token: env.REGISTRY_TOKEN }),
  logger,
  subgraphUrls,
  subgraphTimeoutMs: env.SUBGRAPH_TIMEOUT_MS,
  maxSocketsPerSubgraph: env.SUBGRAPH_MAX_SOCKETS,
  production: env.NODE_ENV === 'production',
});
await server.start(env.PORT, env.HOST);
stopOnSignals(server.stop, logger);
