import { readFileSync } from 'node:fs';
import { createSubgraphServer, type DataSubgraphDeps, DateTime, mergeResolvers } from '@tenantgraph/server-kit';
import { parse } from 'graphql';
import { createContext } from './context.ts';
import type { Database } from './database.ts';
import { orderResolvers } from './order/order.resolvers.ts';
import type { ProductClient } from './product/product.client.ts';
import { productResolvers } from './product/product.resolvers.ts';

export { migrationsFolder, SERVICE } from './migrations.ts';
export { createProductClient } from './product/product.client.ts';

export const typeDefs = parse(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'));

export type OrderServerDeps = DataSubgraphDeps<Database> & {
  /** The product subgraph, for prices at order time. */
  products: ProductClient;
};

/** The order subgraph: the `Order` entity, each tenant's orders and `Product.unitsOrdered`. */
export function createOrderServer(deps: OrderServerDeps) {
  return createSubgraphServer({
    name: 'order',
    typeDefs,
    resolvers: mergeResolvers({ DateTime }, orderResolvers, productResolvers),
    verifier: deps.verifier,
    logger: deps.logger,
    metrics: deps.metrics,
    createContext: (base) => createContext(base, deps.databases, deps.products),
    ready: deps.ready,
    limits: deps.limits,
    onStop: () => deps.databases.destroy(),
    admission: deps.admission,
  });
}
