import { createTokenVerifier } from '@tenantgraph/auth';
import { createLogger, createRegistryClient } from '@tenantgraph/core';
import { connect, createDatabaseRouter, migrationState } from '@tenantgraph/database';
import type { z } from 'zod';
import type { subgraphEnvironment } from './environment.ts';
import { createMetrics } from './metrics.ts';

/**
 * What a data subgraph's `index.ts` wires from its environment: logger, metrics, token
 * verifier, the registry client, the per-tenant database router and a readiness check.
 */
export function dataSubgraphDeps<DB>(service: string, env: z.infer<typeof subgraphEnvironment>, migrationsFolder: string) {
  const logger = createLogger({ service });
  const metrics = createMetrics(service);
  const registry = createRegistryClient({ url: env.TENANT_REGISTRY_URL, token: env.REGISTRY_TOKEN });
  const databases = createDatabaseRouter<DB>({
    sharedUrl: env.DATABASE_URL,
    registry,
    poolSize: env.DB_POOL_SIZE,
    maxConnections: env.DB_MAX_CONNECTIONS,
    statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS,
    onQuery: metrics.countQuery,
  });
  const probe = connect(env.DATABASE_URL, { max: 1 });
  return {
    logger,
    metrics,
    databases,
    verifier: createTokenVerifier({ issuer: env.AUTH_ISSUER, audience: env.AUTH_AUDIENCE, jwksUrl: env.AUTH_JWKS_URL }),
    async ready() {
      const state = await migrationState(probe, migrationsFolder);
      if (state.pending.length > 0) throw new Error(`pending migrations: ${state.pending.join(', ')}`);
    },
  };
}
