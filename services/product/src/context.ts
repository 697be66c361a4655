import type { DatabaseRouter } from '@tenantgraph/database';
import { type DataContext, dataContext, rowLoader, type SubgraphContext, type TenantScope } from '@tenantgraph/server-kit';
import type { Database } from './database.ts';
import { findProductsByIds } from './product/product.repository.ts';

export type ProductContext = DataContext<Database> & { loaders: ReturnType<typeof createLoaders> };

/** Per request, per tenant: one statement per batch of keys, never shared between requests. */
function createLoaders({ tenantId, inTenant }: TenantScope<Database>) {
  return {
    productById: rowLoader(
      (ids: readonly string[]) => inTenant((trx) => findProductsByIds(trx, tenantId, ids)),
      (row) => row.id,
    ),
  };
}

export async function createContext(base: SubgraphContext, databases: DatabaseRouter<Database>): Promise<ProductContext> {
  const scope = dataContext(base, await databases.forTenant(base.tenantId));
  return { ...scope, loaders: createLoaders(scope) };
}
