import { createTokenVerifier } from '@tenantgraph/auth';
import { createLogger, createRegistryClient } from '@tenantgraph/core';
import { stopOnSignals } from '@tenantgraph/server-kit';
import { Redis } from 'ioredis';
import { environment as env, planLimits, queryLimits, subgraphUrls } from './environment.ts';
import { createGatewayServer, memoryRateLimiter, redisRateLimiter, supergraphFromFile } from './server.ts';
import { supergraphFromUrl } from './supergraph.ts';

const logger = createLogger({ service: 'gateway' });
const server = createGatewayServer({
  supergraph: env.SUPERGRAPH_URL
    ? supergraphFromUrl(env.SUPERGRAPH_URL, logger, { pollMs: env.SUPERGRAPH_POLL_MS })
    : supergraphFromFile(env.SUPERGRAPH_PATH, logger, env.SUPERGRAPH_POLL_MS),
  verifier: createTokenVerifier({ issuer: env.AUTH_ISSUER, audience: env.AUTH_AUDIENCE, jwksUrl: env.AUTH_JWKS_URL }),
  registry: createRegistryClient({ url: env.TENANT_REGISTRY_URL, token: env.REGISTRY_TOKEN }),
  logger,
  subgraphUrls,
  subgraphTimeoutMs: env.SUBGRAPH_TIMEOUT_MS,
  maxSocketsPerSubgraph: env.SUBGRAPH_MAX_SOCKETS,
  production: env.NODE_ENV === 'production',
  limits: queryLimits,
  planLimits,
  rateLimiter: env.REDIS_URL
    ? redisRateLimiter(new Redis(env.REDIS_URL, { commandTimeout: 250, maxRetriesPerRequest: 1 }), { logger })
    : memoryRateLimiter(),
});
await server.start(env.PORT, env.HOST);
stopOnSignals(server.stop, logger);
