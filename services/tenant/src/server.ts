import { readFileSync } from 'node:fs';
import type { TokenVerifier } from '@tenantgraph/auth';
import { cachedRegistry, type Logger } from '@tenantgraph/core';
import { migrationState } from '@tenantgraph/database';
import {
  type ConcurrencyLimits,
  createSubgraphServer,
  DateTime,
  DEFAULT_SUBGRAPH_CONCURRENCY,
  type Metrics,
  mergeResolvers,
  type SubgraphLimits,
  tenantAdmission,
} from '@tenantgraph/server-kit';
import { parse } from 'graphql';
import type { Kysely } from 'kysely';
import { createContext } from './context.ts';
import type { Database } from './database.ts';
import { migrationsFolder } from './migrations.ts';
import { registryRoute } from './registry/registry.route.ts';
import { listTenants } from './tenant/tenant.repository.ts';
import { tenantResolvers } from './tenant/tenant.resolvers.ts';

export { migrationsFolder, SERVICE } from './migrations.ts';

export const typeDefs = parse(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'));

export type TenantServerDeps = {
  db: Kysely<Database>;
  verifier: TokenVerifier;
  logger: Logger;
  metrics: Metrics;
  /** Secret the other services present to read the registry. */
  registryToken: string;
  /** Depth, cost, deadline and answer size of one request (defaults otherwise). */
  limits?: Partial<SubgraphLimits>;
  /** Per-tenant concurrency (the defaults when absent). */
  concurrency?: ConcurrencyLimits;
};

export type { SubgraphServer } from '@tenantgraph/server-kit';

/** The tenant subgraph: the `Tenant` entity's owner and the tenant registry. */
export function createTenantServer(deps: TenantServerDeps) {
  // The registry's own view of itself, cached like everyone else's.
  const registry = cachedRegistry(() => listTenants(deps.db));
  return createSubgraphServer({
    name: 'tenant',
    typeDefs,
    resolvers: mergeResolvers({ DateTime }, tenantResolvers),
    verifier: deps.verifier,
    logger: deps.logger,
    metrics: deps.metrics,
    createContext: (base) => createContext(base, deps.db, registry),
    async ready() {
      const state = await migrationState(deps.db, migrationsFolder);
      if (state.pending.length > 0) throw new Error(`pending migrations: ${state.pending.join(', ')}`);
    },
    routes: { 'GET /internal/tenants': registryRoute(deps.db, deps.registryToken) },
    onStop: () => deps.db.destroy(),
    limits: deps.limits,
    admission: tenantAdmission(deps.concurrency ?? DEFAULT_SUBGRAPH_CONCURRENCY, registry),
  });
}
