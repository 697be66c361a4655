import cluster from 'node:cluster';
import { createLogger, createRegistryClient } from '@tenantgraph/core';
import {
  clusterMetricsServer,
  concurrencyLimits,
  createMetrics,
  createMetricsServer,
  reportMetricsToPrimary,
  runService,
  stopOnSignals,
  tenantAdmission,
  verifierFromEnvironment,
} from '@tenantgraph/server-kit';
import { Redis } from 'ioredis';
import { environment as env, explorerEnabled, planLimits, queryBudgets, queryLimits, subgraphUrls } from './environment.ts';
import { serveRateLimitsToWorkers, workerRateLimiter } from './rate-limit-cluster.ts';
import { createGatewayServer, loadTrustedDocuments, memoryRateLimiter, redisRateLimiter, supergraphFromFile } from './server.ts';
import { supergraphFromUrl } from './supergraph.ts';

const logger = createLogger({ service: 'gateway' }, env.LOG_LEVEL);

if (env.GATEWAY_WORKERS > 1 && cluster.isPrimary) {
  await runWorkers(env.GATEWAY_WORKERS);
} else {
  await serve();
}

async function serve() {
  const registry = createRegistryClient({
    url: env.TENANT_REGISTRY_URL,
    token: env.REGISTRY_TOKEN,
    maxStaleMs: env.REGISTRY_MAX_STALE * 1000,
  });
  const metrics = createMetrics('gateway');
  const server = createGatewayServer({
    metrics,
    supergraph: env.SUPERGRAPH_URL
      ? supergraphFromUrl(env.SUPERGRAPH_URL, logger, { pollMs: env.SUPERGRAPH_POLL_MS })
      : supergraphFromFile(env.SUPERGRAPH_PATH, logger, env.SUPERGRAPH_POLL_MS),
    verifier: verifierFromEnvironment(env),
    registry,
    logger,
    subgraphUrls,
    subgraphTimeoutMs: env.SUBGRAPH_TIMEOUT_MS,
    maxSocketsPerSubgraph: env.SUBGRAPH_MAX_SOCKETS,
    production: env.NODE_ENV === 'production',
    limits: queryLimits,
    queryBudgets,
    planLimits,
    admission: tenantAdmission(concurrencyLimits(env), registry),
    costPerSlot: env.CONCURRENCY_COST_PER_SLOT,
    rateLimiter: rateLimiter(),
    explorer: explorerEnabled,
    corsOrigins: env.CORS_ORIGINS,
    trustedDocuments: env.PERSISTED_DOCUMENTS
      ? { documents: await loadTrustedDocuments(env.PERSISTED_DOCUMENTS), only: env.ONLY_PERSISTED_DOCUMENTS }
      : undefined,
  });
  if (cluster.isWorker) {
    reportMetricsToPrimary(metrics.registry);
    await server.start(env.PORT, env.HOST);
    stopOnSignals(server.stop, logger, { stopWithParent: env.STOP_WITH_PARENT });
  } else {
    await runService({ server, metrics: createMetricsServer({ registry: metrics.registry, logger }), env, logger });
  }
}

/**
 * One budget per tenant however many workers: a worker takes from the primary's buckets over IPC.
 * Redis, when set, is shared by every replica; while it is down the primary's (or this process's)
 * buckets decide, so an outage never lifts the limit.
 */
function rateLimiter() {
  const local = cluster.isWorker ? workerRateLimiter() : memoryRateLimiter();
  if (!env.REDIS_URL) return local;
  return redisRateLimiter(new Redis(env.REDIS_URL, { commandTimeout: 250, maxRetriesPerRequest: 1 }), { logger, fallback: local });
}

/**
 * GATEWAY_WORKERS=N: N copies of the gateway share the port (the primary hands out connections)
 * and the primary serves their summed metrics on METRICS_PORT and keeps their rate-limit buckets.
 * A worker that dies is replaced; on SIGTERM every worker drains and stops, then the primary.
 */
async function runWorkers(count: number) {
  let stopping = false;
  const metricsServer = clusterMetricsServer(logger);
  serveRateLimitsToWorkers();
  await metricsServer.start(env.METRICS_PORT, env.METRICS_HOST);
  for (let i = 0; i < count; i++) cluster.fork();
  cluster.on('exit', (worker, code) => {
    if (stopping) return;
    logger.warn('gateway worker exited; starting another', { pid: worker.process.pid, code });
    cluster.fork();
  });
  stopOnSignals(
    async () => {
      stopping = true;
      const workers = Object.values(cluster.workers ?? {}).filter((worker) => worker !== undefined);
      await Promise.all(workers.map((worker) => new Promise((resolve) => worker.once('exit', resolve).process.kill('SIGTERM'))));
      await metricsServer.stop();
    },
    logger,
    { stopWithParent: env.STOP_WITH_PARENT },
  );
  logger.info('gateway workers started', { workers: count });
}
