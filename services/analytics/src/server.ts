import { readFileSync } from 'node:fs';
import { createSubgraphServer, type DataSubgraphDeps, DateTime, mergeResolvers } from '@tenantgraph/server-kit';
import { parse } from 'graphql';
import { createContext } from './context.ts';
import type { Database } from './database.ts';
import { usageResolvers } from './usage/usage.resolvers.ts';

export { migrationsFolder, SERVICE } from './migrations.ts';
export { CONSUMER, startAnalyticsSync } from './usage/usage.consumer.ts';

export const typeDefs = parse(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'));

export type AnalyticsServerDeps = DataSubgraphDeps<Database>;

/** The analytics subgraph: `Tenant.usage`, counted from the domain events by `analytics_sync`. */
export function createAnalyticsServer(deps: AnalyticsServerDeps) {
  return createSubgraphServer({
    name: 'analytics',
    typeDefs,
    resolvers: mergeResolvers({ DateTime }, usageResolvers),
    verifier: deps.verifier,
    logger: deps.logger,
    metrics: deps.metrics,
    createContext: (base) => createContext(base, deps.databases),
    ready: deps.ready,
    limits: deps.limits,
    onStop: () => deps.databases.destroy(),
    admission: deps.admission,
  });
}
