import type { DatabaseRouter } from '@tenantgraph/database';
import {
  countLoader,
  type DataContext,
  dataContext,
  groupLoader,
  rowLoader,
  type SubgraphContext,
  type TenantScope,
} from '@tenantgraph/server-kit';
import type { Database } from './database.ts';
import { findLinesByOrderIds, findOrdersByIds, sumUnitsOrdered } from './order/order.repository.ts';
import type { ProductClient } from './product/product.client.ts';

export type OrderContext = DataContext<Database> & {
  loaders: ReturnType<typeof createLoaders>;
  /** The product subgraph, asked as the caller. */
  products: ProductClient;
};

/** Per request, per tenant: one statement per batch of keys, never shared between requests. */
function createLoaders({ tenantId, inTenant }: TenantScope<Database>) {
  return {
    orderById: rowLoader(
      (ids: readonly string[]) => inTenant((trx) => findOrdersByIds(trx, tenantId, ids)),
      (row) => row.id,
    ),
    linesByOrderId: groupLoader(
      (orderIds: readonly string[]) => inTenant((trx) => findLinesByOrderIds(trx, tenantId, orderIds)),
      (row) => row.order_id,
    ),
    unitsOrderedByProductId: countLoader((productIds: readonly string[]) => inTenant((trx) => sumUnitsOrdered(trx, tenantId, productIds))),
  };
}

export async function createContext(
  base: SubgraphContext,
  databases: DatabaseRouter<Database>,
  products: ProductClient,
): Promise<OrderContext> {
  const scope = dataContext(base, await databases.forTenant(base.tenantId));
  return { ...scope, loaders: createLoaders(scope), products };
}
