import type { CountedRow } from '@tenantgraph/core';
import { reusableRead } from '@tenantgraph/database';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../database.ts';
import type { NewOrderLineRow, OrderLineRow, OrderRow, OrderStatus } from './order.table.ts';

/** A page of orders: its size, the number of the last order already seen, the status filter, and whether rows carry the total. */
type OrderPage = { limit: number; after?: [number: number]; status?: OrderStatus; withTotal?: boolean };

/**
 * The tenant's next order number. The upsert locks the tenant's counter row until the
 * transaction ends, so concurrent placements take turns, and a rollback gives the number back.
 */
export async function nextOrderNumber(db: Kysely<Database>, tenantId: string): Promise<number> {
  const { last_number } = await db
    .insertInto('order_number_counter')
    .values({ tenant_id: tenantId, last_number: 1 })
    .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ last_number: sql<number>`order_number_counter.last_number + 1` }))
    .returning('last_number')
    .executeTakeFirstOrThrow();
  return last_number;
}

export async function insertOrder(
  db: Kysely<Database>,
  tenantId: string,
  order: { number: number; currency: string; total_cents: number },
): Promise<OrderRow> {
  return db
    .insertInto('sales_order')
    .values({ ...order, tenant_id: tenantId })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function insertOrderLines(
  db: Kysely<Database>,
  tenantId: string,
  orderId: string,
  lines: Omit<NewOrderLineRow, 'tenant_id' | 'order_id'>[],
): Promise<OrderLineRow[]> {
  return db
    .insertInto('sales_order_line')
    .values(lines.map((line) => ({ ...line, tenant_id: tenantId, order_id: orderId })))
    .returningAll()
    .execute();
}

/**
 * A page of the tenant's orders, newest (highest number) first, with one extra row to tell if more follow;
 * with `page.withTotal`, each row also carries the count of all the tenant's orders under the same filter.
 */
export const findOrders: (db: Kysely<Database>, tenantId: string, page: OrderPage) => Promise<CountedRow<OrderRow>[]> = reusableRead(
  (db: Kysely<Database>, tenantId: string, page: OrderPage) => {
    let query = db.selectFrom('sales_order').selectAll().where('tenant_id', '=', tenantId);
    if (page.status) query = query.where('status', '=', page.status);
    if (page.after) query = query.where('number', '<', page.after[0]);
    query = query.orderBy('number', 'desc').limit(sql<number>`${page.limit} + 1`);
    return page.withTotal ? query.select(orderCount(db, tenantId, page.status).as('total_count')) : query;
  },
);

export async function countOrders(db: Kysely<Database>, tenantId: string, status?: OrderStatus): Promise<number> {
  const { count } = await orderCount(db, tenantId, status).executeTakeFirstOrThrow();
  return count;
}

function orderCount(db: Kysely<Database>, tenantId: string, status: OrderStatus | undefined) {
  const query = db
    .selectFrom('sales_order')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('tenant_id', '=', tenantId);
  return status ? query.where('status', '=', status) : query;
}

export async function findOrdersByIds(db: Kysely<Database>, tenantId: string, ids: readonly string[]): Promise<OrderRow[]> {
  return db.selectFrom('sales_order').selectAll().where('tenant_id', '=', tenantId).where('id', 'in', ids).execute();
}

export const findLinesByOrderIds: (db: Kysely<Database>, tenantId: string, orderIds: readonly string[]) => Promise<OrderLineRow[]> =
  reusableRead((db: Kysely<Database>, tenantId: string, orderIds: readonly string[]) =>
    db
      .selectFrom('sales_order_line')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('order_id', 'in', orderIds)
      .orderBy('order_id')
      .orderBy('line_no'),
  );

/** Units of each product over the tenant's PLACED orders; products never ordered are absent. */
export const sumUnitsOrdered: (
  db: Kysely<Database>,
  tenantId: string,
  productIds: readonly string[],
) => Promise<{ key: string; count: number }[]> = reusableRead((db: Kysely<Database>, tenantId: string, productIds: readonly string[]) =>
  db
    .selectFrom('sales_order_line as line')
    .innerJoin('sales_order as o', (join) => join.onRef('o.tenant_id', '=', 'line.tenant_id').onRef('o.id', '=', 'line.order_id'))
    .select((eb) => ['line.product_id as key', eb.fn.sum<number>('line.quantity').as('count')])
    .where('line.tenant_id', '=', tenantId)
    .where('line.product_id', 'in', productIds)
    .where('o.status', '=', sql.lit<OrderStatus>('PLACED'))
    .groupBy('line.product_id'),
);

/** A PLACED order becomes CANCELLED. Undefined when the tenant has no such order, or it was cancelled already. */
export async function cancelPlacedOrder(db: Kysely<Database>, tenantId: string, id: string): Promise<OrderRow | undefined> {
  return db
    .updateTable('sales_order')
    .set({ status: 'CANCELLED' })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .where('status', '=', 'PLACED')
    .returningAll()
    .executeTakeFirst();
}
