import { createLogger, createRegistryClient, type Logger } from '@tenantgraph/core';
import { connect, createDatabaseRouter, migrateToLatest, migrationState } from '@tenantgraph/database';
import type { z } from 'zod';
import { verifierFromEnvironment } from './auth.ts';
import { concurrencyLimits, type subgraphEnvironment, subgraphLimits } from './environment.ts';
import { tenantAdmission } from './fair-scheduler.ts';
import { createMetrics } from './metrics.ts';
import { createMetricsServer } from './metrics-server.ts';

type SubgraphEnvironment = z.infer<typeof subgraphEnvironment>;

/**
 * What a data subgraph's `index.ts` wires from its environment: logger, metrics and their listener,
 * token verifier, the registry client, the per-tenant database router, the request limits,
 * per-tenant admission and a readiness check.
 * With `MIGRATE_ON_START=true` it also starts migrating the shared database (see `migrateOnStart`).
 */
export function dataSubgraphDeps<DB>(service: string, env: SubgraphEnvironment, migrationsFolder: string) {
  const { logger, metrics, metricsServer, verifier, limits, concurrency } = platformDeps(service, env, migrationsFolder);
  const registry = createRegistryClient({
    url: env.TENANT_REGISTRY_URL,
    token: env.REGISTRY_TOKEN,
    maxStaleMs: env.REGISTRY_MAX_STALE * 1000,
  });
  const databases = createDatabaseRouter<DB>({
    sharedUrl: env.DATABASE_URL,
    registry,
    poolSize: env.DB_POOL_SIZE,
    maxConnections: env.DB_MAX_CONNECTIONS,
    statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS,
    onQuery: metrics.countQuery,
  });
  metrics.watchPools(databases.poolStats);
  const probe = connect(env.DATABASE_URL, { max: 1 });
  return {
    logger,
    metrics,
    metricsServer,
    // Closing the router (the server's `onStop`) closes the readiness probe's pool too.
    databases: { ...databases, destroy: () => Promise.all([databases.destroy(), probe.destroy()]).then(() => {}) },
    verifier,
    limits,
    admission: tenantAdmission(concurrency, registry),
    async ready() {
      const state = await migrationState(probe, migrationsFolder);
      if (state.pending.length > 0) throw new Error(`pending migrations: ${state.pending.join(', ')}`);
    },
  };
}

/**
 * What the tenant subgraph's `index.ts` wires: the same platform parts as `dataSubgraphDeps`,
 * with its one database (the registry, never routed by tenant) in place of the router.
 */
export function registrySubgraphDeps<DB>(service: string, env: SubgraphEnvironment, migrationsFolder: string) {
  const deps = platformDeps(service, env, migrationsFolder);
  const db = connect<DB>(env.DATABASE_URL, {
    max: env.DB_POOL_SIZE,
    statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS,
    onQuery: deps.metrics.countQuery,
  });
  return { ...deps, db };
}

/** Logger, metrics and their listener, token verifier, request limits and per-tenant concurrency of a subgraph; starts the migration at start when asked to. */
function platformDeps(service: string, env: SubgraphEnvironment, migrationsFolder: string) {
  const logger = createLogger({ service }, env.LOG_LEVEL);
  // Not awaited: the server listens at once and `/ready` answers 503 until the migrations are in.
  void migrateOnStart(env, migrationsFolder, logger);
  const metrics = createMetrics(service, { maxTenants: env.METRICS_MAX_TENANTS });
  return {
    logger,
    metrics,
    /** The metrics listener, apart from the API port (`runService` starts it). */
    metricsServer: createMetricsServer({ registry: metrics.registry, logger }),
    verifier: verifierFromEnvironment(env),
    limits: subgraphLimits(env),
    concurrency: concurrencyLimits(env),
  };
}

/**
 * With `MIGRATE_ON_START=true`, brings the service's shared database to the latest migration
 * in `migrationsFolder`, as `MIGRATION_DATABASE_URL` or else `DATABASE_URL`; does nothing otherwise.
 * A database that is not up yet is retried (every `retryMs`, `attempts` times); it never throws:
 * a failure is logged and readiness stays 503. Dedicated tenant databases are migrated when the
 * tenant is provisioned (`pnpm tenant`), not here.
 * @example void migrateOnStart(environment, migrationsFolder, logger)
 */
export async function migrateOnStart(
  env: Pick<SubgraphEnvironment, 'MIGRATE_ON_START' | 'MIGRATION_DATABASE_URL' | 'DATABASE_URL'>,
  migrationsFolder: string,
  logger: Logger,
  { attempts = 30, retryMs = 2_000 } = {},
): Promise<boolean> {
  if (!env.MIGRATE_ON_START) return false;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const db = connect(env.MIGRATION_DATABASE_URL ?? env.DATABASE_URL, { max: 1, statementTimeoutMs: 60_000 });
    try {
      const results = await migrateToLatest(db, migrationsFolder);
      logger.info('migrated at start', { applied: results.map((result) => result.migrationName) });
      return true;
    } catch (error) {
      const last = attempt === attempts;
      logger[last ? 'error' : 'warn'](last ? 'migration at start failed; giving up' : 'migration at start failed; retrying', {
        attempt,
        error,
      });
      if (!last) await new Promise((resolve) => setTimeout(resolve, retryMs).unref());
    } finally {
      await db.destroy();
    }
  }
  return false;
}
