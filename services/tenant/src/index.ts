import { createLogger } from '@tenantgraph/core';
import { connect } from '@tenantgraph/database';
import { createMetrics, createMetricsServer, migrateOnStart, runService, verifierFromEnvironment } from '@tenantgraph/server-kit';
import type { Database } from './database.ts';
import { environment as env } from './environment.ts';
import { SERVICE, migrationsFolder } from './migrations.ts';
import { createTenantServer } from './server.ts';

const logger = createLogger({ service: SERVICE });
const metrics = createMetrics(SERVICE);
const db = connect<Database>(env.DATABASE_URL, {
  max: env.DB_POOL_SIZE,
  statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS,
  onQuery: metrics.countQuery,
});
const server = createTenantServer({
  db,
  verifier: verifierFromEnvironment(env),
  logger,
  metrics,
  registryToken: env.REGISTRY_TOKEN,
});
// As every subgraph (see dataSubgraphDeps): not awaited, `/ready` is 503 until migrated.
void migrateOnStart(env, migrationsFolder, logger);
await runService({ server, metrics: createMetricsServer({ registry: metrics.registry, logger }), env, logger });
