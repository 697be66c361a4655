import { badUserInput, localIdOf, notFound, toGlobalId } from '@tenantgraph/core';
import type { OrderLineRow, OrderRow } from './order.table.ts';

const MAX_LINES = 100;
const MAX_QUANTITY = 10_000;

/** `Order` as the schema shows it. */
export type Order = ReturnType<typeof orderRowToOrder>;

export function orderRowToOrder(row: OrderRow) {
  return {
    id: toGlobalId(row.tenant_id, row.id),
    tenant: { id: row.tenant_id },
    number: row.number,
    status: row.status,
    currency: row.currency,
    totalCents: row.total_cents,
    placedAt: row.placed_at,
  };
}

export function orderLineRowToOrderLine(row: OrderLineRow) {
  return {
    product: { id: toGlobalId(row.tenant_id, row.product_id) },
    quantity: row.quantity,
    unitPriceCents: row.unit_price_cents,
  };
}

export type PlaceOrderInput = { lines: { productId: string; quantity: number }[] };

/** Checks the input before anything is read; product ids become row ids of the caller's tenant. */
export function validatePlaceOrder(input: PlaceOrderInput, tenantId: string) {
  if (input.lines.length < 1 || input.lines.length > MAX_LINES) {
    throw badUserInput(`An order has 1 to ${MAX_LINES} lines.`, 'lines');
  }
  for (const line of input.lines) {
    if (!Number.isInteger(line.quantity) || line.quantity < 1 || line.quantity > MAX_QUANTITY) {
      throw badUserInput(`quantity must be between 1 and ${MAX_QUANTITY}.`, 'quantity');
    }
  }
  return input.lines.map((line) => {
    const localId = localIdOf(line.productId, tenantId, 'product');
    if (!localId) throw notFound('product', line.productId);
    // Rebuilt from its parts, so the same product spelled twice is asked for once.
    return { productId: toGlobalId(tenantId, localId), localId, quantity: line.quantity };
  });
}
