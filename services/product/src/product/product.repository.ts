import type { CountedRow } from '@tenantgraph/core';
import { type CreatedAtPage, createdAtKeyset, reusableRead } from '@tenantgraph/database';
import type { Kysely } from 'kysely';
import type { Database } from '../database.ts';
import type { NewProductRow, ProductRow } from './product.table.ts';

/**
 * A page of the tenant's products in (created_at, id) order, with one extra row to tell if more follow;
 * with `page.withTotal`, each row also carries the count of all the tenant's products.
 */
export const findProducts: (db: Kysely<Database>, tenantId: string, page: CreatedAtPage) => Promise<CountedRow<ProductRow>[]> =
  reusableRead((db: Kysely<Database>, tenantId: string, page: CreatedAtPage) => {
    const query = db.selectFrom('product').selectAll().where('tenant_id', '=', tenantId).$call(createdAtKeyset(page));
    return page.withTotal ? query.select(productCount(db, tenantId).as('total_count')) : query;
  });

export async function countProducts(db: Kysely<Database>, tenantId: string): Promise<number> {
  const { count } = await productCount(db, tenantId).executeTakeFirstOrThrow();
  return count;
}

function productCount(db: Kysely<Database>, tenantId: string) {
  return db
    .selectFrom('product')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('tenant_id', '=', tenantId);
}

export const findProductsByIds: (db: Kysely<Database>, tenantId: string, ids: readonly string[]) => Promise<ProductRow[]> = reusableRead(
  (db: Kysely<Database>, tenantId: string, ids: readonly string[]) =>
    db.selectFrom('product').selectAll().where('tenant_id', '=', tenantId).where('id', 'in', ids),
);

export async function insertProduct(db: Kysely<Database>, tenantId: string, product: Omit<NewProductRow, 'tenant_id'>) {
  return db
    .insertInto('product')
    .values({ ...product, tenant_id: tenantId })
    .returningAll()
    .executeTakeFirstOrThrow();
}
