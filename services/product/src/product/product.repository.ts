import type { Kysely } from 'kysely';
import type { Database } from '../database.ts';
import type { NewProductRow, ProductRow } from './product.table.ts';

export type ProductPage = { limit: number; after?: [createdAt: string, id: string] };

/** A page of the tenant's products in (created_at, id) order, with one extra row to tell if more follow. */
export async function findProducts(db: Kysely<Database>, tenantId: string, page: ProductPage): Promise<ProductRow[]> {
  let query = db.selectFrom('product').selectAll().where('tenant_id', '=', tenantId);
  if (page.after) {
    const [createdAt, id] = page.after;
    query = query.where((eb) => eb(eb.refTuple('created_at', 'id'), '>', eb.tuple(new Date(createdAt), id)));
  }
  return query.orderBy('created_at').orderBy('id').limit(page.limit + 1).execute();
}

export async function countProducts(db: Kysely<Database>, tenantId: string): Promise<number> {
  const { count } = await db
    .selectFrom('product')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('tenant_id', '=', tenantId)
    .executeTakeFirstOrThrow();
  return count;
}

export async function findProductsByIds(db: Kysely<Database>, tenantId: string, ids: readonly string[]): Promise<ProductRow[]> {
  return db.selectFrom('product').selectAll().where('tenant_id', '=', tenantId).where('id', 'in', ids).execute();
}

export async function insertProduct(db: Kysely<Database>, tenantId: string, product: Omit<NewProductRow, 'tenant_id'>) {
  return db
    .insertInto('product')
    .values({ ...product, tenant_id: tenantId })
    .returningAll()
    .executeTakeFirstOrThrow();
}
