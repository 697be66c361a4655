import './tracing.ts';
import cluster from 'node:cluster';
import { createLogger, createRegistryClient } from '@tenantgraph/core';
import { connectEventTransport, type EventTransport } from '@tenantgraph/events';
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
import {
  costRates,
  environment as env,
  explorerEnabled,
  planLimits,
  queryBudgets,
  queryLimits,
  subgraphUrls,
  subscriptionLimits,
} from './environment.ts';
import { serveRateLimitsToWorkers, workerRateLimiter } from './rate-limit-cluster.ts';
import {
  createEntityCache,
  createGatewayServer,
  invalidateOnEvents,
  loadTrustedDocuments,
  memoryRateLimiter,
  redisRateLimiter,
  supergraphFromFile,
} from './server.ts';
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
  const metrics = createMetrics('gateway', { maxTenants: env.METRICS_MAX_TENANTS });
  // Domain events (NATS when NATS_URL is set, else the PostgreSQL event log): subscriptions, and
  // invalidation of the entity cache for changes made through another replica. One connection for both.
  const events = await connectEventTransport({ natsUrl: env.NATS_URL, eventsDatabaseUrl: env.EVENTS_DATABASE_URL, name: 'gateway' });
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
    costRates,
    admission: tenantAdmission(concurrencyLimits(env), registry),
    costPerSlot: env.CONCURRENCY_COST_PER_SLOT,
    rateLimiter: rateLimiter(),
    explorer: explorerEnabled,
    corsOrigins: env.CORS_ORIGINS,
    entityCache: await entityCache(metrics, events),
    trustedDocuments: env.PERSISTED_DOCUMENTS
      ? { documents: await loadTrustedDocuments(env.PERSISTED_DOCUMENTS), only: env.ONLY_PERSISTED_DOCUMENTS }
      : undefined,
    // Subscriptions over WebSocket on the same port; the server closes the transport when it stops.
    events,
    subscriptionLimits,
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
 * The entity cache, unless ENTITY_CACHE=off. Several workers share one only through Redis (each
 * request reads its tenant's generations there); without Redis they would each keep their own, and
 * a write through one worker would not be seen at once through another, so it stays off.
 */
async function entityCache(metrics: ReturnType<typeof createMetrics>, events: EventTransport | undefined) {
  if (env.ENTITY_CACHE === 'off') return undefined;
  if (env.GATEWAY_WORKERS > 1 && !env.REDIS_URL) {
    logger.warn('entity cache off: several workers without REDIS_URL cannot share it');
    return undefined;
  }
  const cache = createEntityCache({
    maxBytes: env.ENTITY_CACHE_MB * 2 ** 20,
    tenantShare: env.ENTITY_CACHE_TENANT_SHARE,
    ttlMs: env.ENTITY_CACHE_TTL_S * 1000,
    redis: env.REDIS_URL ? new Redis(env.REDIS_URL, { commandTimeout: 250, maxRetriesPerRequest: 1 }) : undefined,
    onLookup: metrics.countCacheLookup,
    logger,
  });
  // Changes made anywhere else (another replica, a subgraph called directly) arrive as domain events.
  if (events) await invalidateOnEvents(cache, events, logger);
  else
    logger.warn(
      'entity cache without domain events (NATS_URL / EVENTS_DATABASE_URL unset): changes not made through this gateway show after ENTITY_CACHE_TTL_S',
    );
  return cache;
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
