import type { DatabaseRouter } from '@tenantgraph/database';
import { withTenant } from '@tenantgraph/database';
import { type SubgraphContext, rowLoader } from '@tenantgraph/server-kit';
import type { Kysely } from 'kysely';
import type { Database } from './database.ts';
import { findProductsByIds } from './product/product.repository.ts';

export type ProductContext = SubgraphContext & {
  /** The database holding this tenant's rows (shared or dedicated). */
  db: Kysely<Database>;
  loaders: ReturnType<typeof createLoaders>;
};

/** Per request, per tenant: one statement per batch of keys, never shared between requests. */
function createLoaders(db: Kysely<Database>, tenantId: string) {
  return {
    productById: rowLoader(
      (ids: readonly string[]) => withTenant(db, tenantId, (trx) => findProductsByIds(trx, tenantId, ids)),
      (row) => row.id,
    ),
  };
}

export async function createContext(base: SubgraphContext, databases: DatabaseRouter<Database>): Promise<ProductContext> {
  const db = await databases.forTenant(base.tenantId);
  return { ...base, db, loaders: createLoaders(db, base.tenantId) };
}
