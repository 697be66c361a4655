import { readFileSync } from 'node:fs';
import { createSubgraphServer, type DataSubgraphDeps, DateTime, mergeResolvers } from '@tenantgraph/server-kit';
import { parse } from 'graphql';
import { createContext } from './context.ts';
import type { Database } from './database.ts';
import { productResolvers } from './product/product.resolvers.ts';

export { migrationsFolder, SERVICE } from './migrations.ts';

export const typeDefs = parse(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'));

export type ProductServerDeps = DataSubgraphDeps<Database>;

/** The product subgraph: the `Product` entity and each tenant's catalogue. */
export function createProductServer(deps: ProductServerDeps) {
  return createSubgraphServer({
    name: 'product',
    typeDefs,
    resolvers: mergeResolvers({ DateTime }, productResolvers),
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
