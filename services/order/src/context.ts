import type { DatabaseRouter } from '@tenantgraph/database';
import { withTenant } from '@tenantgraph/database';
import { type SubgraphContext, countLoader, groupLoader, rowLoader } from '@tenantgraph/server-kit';
import type { Kysely } from 'kysely';
import type { Database } from './database.ts';
import { findLinesByOrderIds, findOrdersByIds, sumUnitsOrdered } from './order/order.repository.ts';
import type { ProductClient } from './product/product.client.ts';

export type OrderContext = SubgraphContext & {
  /** The database holding this tenant's rows (shared or dedicated). */
  db: Kysely<Database>;
  loaders: ReturnType<typeof createLoaders>;
  /** The product subgraph, asked as the caller. */
  products: ProductClient;
};

/** Per request, per tenant: one statement per batch of keys, never shared between requests. */
function createLoaders(db: Kysely<Database>, tenantId: string) {
  return {
    orderById: rowLoader(
      (ids: readonly string[]) => withTenant(db, tenantId, (trx) => findOrdersByIds(trx, tenantId, ids)),
      (row) => row.id,
    ),
    linesByOrderId: groupLoader(
      (orderIds: readonly string[]) => withTenant(db, tenantId, (trx) => findLinesByOrderIds(trx, tenantId, orderIds)),
      (row) => row.order_id,
    ),
    unitsOrderedByProductId: countLoader((productIds: readonly string[]) =>
      withTenant(db, tenantId, (trx) => sumUnitsOrdered(trx, tenantId, productIds)),
    ),
  };
}

export async function createContext(
  base: SubgraphContext,
  databases: DatabaseRouter<Database>,
  products: ProductClient,
): Promise<OrderContext> {
  const db = await databases.forTenant(base.tenantId);
  return { ...base, db, loaders: createLoaders(db, base.tenantId), products };
}
