import { type CreatedAtPage, createdAtKeyset } from '@tenantgraph/database';
import type { Kysely } from 'kysely';
import type { Database } from '../database.ts';
import type { NewProductRow, ProductRow } from './product.table.ts';

/** A page of the tenant's products in (created_at, id) order, with one extra row to tell if more follow. */
export async function findProducts(db: Kysely<Database>, tenantId: string, page: CreatedAtPage): Promise<ProductRow[]> {
  return db.selectFrom('product').selectAll().where('tenant_id', '=', tenantId).$call(createdAtKeyset(page)).execute();
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
