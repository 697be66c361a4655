import cluster from 'node:cluster';
import { createTokenVerifier } from '@tenantgraph/auth';
import { createLogger, createRegistryClient } from '@tenantgraph/core';
import { stopOnSignals } from '@tenantgraph/server-kit';
import { Redis } from 'ioredis';
import { environment as env, explorerEnabled, planLimits, queryLimits, subgraphUrls } from './environment.ts';
import { createGatewayServer, loadTrustedDocuments, memoryRateLimiter, redisRateLimiter, supergraphFromFile } from './server.ts';
import { supergraphFromUrl } from './supergraph.ts';

const logger = createLogger({ service: 'gateway' });

if (env.GATEWAY_WORKERS > 1 && cluster.isPrimary) {
  runWorkers(env.GATEWAY_WORKERS);
} else {
  await serve();
}

async function serve() {
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
    explorer: explorerEnabled,
    corsOrigins: env.CORS_ORIGINS,
    trustedDocuments: env.PERSISTED_DOCUMENTS
      ? { documents: await loadTrustedDocuments(env.PERSISTED_DOCUMENTS), only: env.ONLY_PERSISTED_DOCUMENTS }
      : undefined,
  });
  await server.start(env.PORT, env.HOST);
  stopOnSignals(server.stop, logger);
}

/**
 * GATEWAY_WORKERS=N: N copies of the gateway share the port (the primary hands out connections).
 * A worker that dies is replaced; on SIGTERM every worker drains and stops, then the primary.
 */
function runWorkers(count: number) {
  let stopping = false;
  for (let i = 0; i < count; i++) cluster.fork();
  cluster.on('exit', (worker, code) => {
    if (stopping) return;
    logger.warn('gateway worker exited; starting another', { pid: worker.process.pid, code });
    cluster.fork();
  });
  stopOnSignals(async () => {
    stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((worker) => worker !== undefined);
    await Promise.all(workers.map((worker) => new Promise((resolve) => worker.once('exit', resolve).process.kill('SIGTERM'))));
  }, logger);
  logger.info('gateway workers started', { workers: count });
}
