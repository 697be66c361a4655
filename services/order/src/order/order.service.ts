import { badUserInput, notFound, toGlobalId } from '@tenantgraph/core';
import { recordEvent } from '@tenantgraph/events';
import type { TenantScope } from '@tenantgraph/server-kit';
import type { Database } from '../database.ts';
import type { Caller, ProductClient } from '../product/product.client.ts';
import { cancelPlacedOrder, findOrdersByIds, insertOrder, insertOrderLines, nextOrderNumber } from './order.repository.ts';
import { type PlaceOrderInput, validatePlaceOrder } from './order.ts';

// totalCents is a GraphQL Int: a signed 32-bit integer.
const MAX_TOTAL_CENTS = 2_147_483_647;

/**
 * Places an order: prices each line with the product subgraph's current price (asked as the
 * caller), checks one currency and the total, then takes the tenant's next order number and
 * writes the order and its lines in one transaction. A failure writes nothing and gives the
 * number back.
 */
export async function placeOrder(scope: TenantScope<Database>, products: ProductClient, caller: Caller, input: PlaceOrderInput) {
  const { tenantId, inTenant } = scope;
  const lines = validatePlaceOrder(input, tenantId);

  const productIds = [...new Set(lines.map((line) => line.productId))];
  const prices = await products.prices(productIds, caller);
  const priceOf = new Map(productIds.map((id, i) => [id, prices[i]]));
  const priced = lines.map((line) => {
    const product = priceOf.get(line.productId);
    if (!product) throw notFound('product', line.productId);
    return { ...line, unitPriceCents: product.priceCents, currency: product.currency };
  });
  const currencies = new Set(priced.map((line) => line.currency));
  if (currencies.size > 1) throw badUserInput('All products of an order must share one currency.', 'lines');
  const totalCents = priced.reduce((sum, line) => sum + line.quantity * line.unitPriceCents, 0);
  if (totalCents > MAX_TOTAL_CENTS) throw badUserInput('The order total is too large.', 'lines');

  return inTenant(async (trx) => {
    const number = await nextOrderNumber(trx, tenantId);
    const order = await insertOrder(trx, tenantId, { number, currency: priced[0]!.currency, total_cents: totalCents });
    const orderLines = await insertOrderLines(
      trx,
      tenantId,
      order.id,
      priced.map((line, i) => ({
        line_no: i + 1,
        product_id: line.localId,
        quantity: line.quantity,
        unit_price_cents: line.unitPriceCents,
      })),
    );
    await recordEvent(trx, tenantId, {
      type: 'order.placed',
      entityId: toGlobalId(tenantId, order.id),
      payload: { number: order.number, totalCents: order.total_cents, currency: order.currency, lines: orderLines.length },
    });
    return { order, orderLines };
  });
}

/**
 * Cancels a PLACED order and writes `order.cancelled` in the same transaction; an order already
 * cancelled stays as it is, with no event. Undefined when the tenant has no such order.
 */
export async function cancelOrder({ tenantId, inTenant }: TenantScope<Database>, id: string) {
  return inTenant(async (trx) => {
    const cancelled = await cancelPlacedOrder(trx, tenantId, id);
    if (!cancelled) return (await findOrdersByIds(trx, tenantId, [id]))[0];
    await recordEvent(trx, tenantId, {
      type: 'order.cancelled',
      entityId: toGlobalId(tenantId, cancelled.id),
      payload: { number: cancelled.number, totalCents: cancelled.total_cents, currency: cancelled.currency },
    });
    return cancelled;
  });
}
