import type { Generated, Insertable, Selectable } from 'kysely';

export type OrderStatus = 'PLACED' | 'CANCELLED';

/** `sales_order`: `order` is a reserved word in SQL. */
export interface OrderTable {
  tenant_id: string;
  id: Generated<string>;
  number: number;
  status: Generated<OrderStatus>;
  currency: string;
  total_cents: number;
  placed_at: Generated<Date>;
}

export interface OrderLineTable {
  tenant_id: string;
  order_id: string;
  line_no: number;
  /** The product subgraph's row id (the uuid of its global id). */
  product_id: string;
  quantity: number;
  unit_price_cents: number;
}

/** The last order number handed out per tenant. */
export interface OrderNumberCounterTable {
  tenant_id: string;
  last_number: number;
}

export type OrderRow = Selectable<OrderTable>;
export type OrderLineRow = Selectable<OrderLineTable>;
export type NewOrderLineRow = Insertable<OrderLineTable>;
