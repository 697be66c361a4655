import {
  badUserInput,
  decodeCursor,
  localIdOf,
  notFound,
  pageSize,
  parseGlobalId,
  requireScope,
  toConnection,
  toGlobalId,
} from '@tenantgraph/core';
import { withTenant } from '@tenantgraph/database';
import { tenantEntityResolvers } from '@tenantgraph/server-kit';
import type { OrderContext } from '../context.ts';
import { cancelOrder, countOrders, findOrders, insertOrder, insertOrderLines, nextOrderNumber } from './order.repository.ts';
import type { OrderLineRow, OrderRow, OrderStatus } from './order.table.ts';

export const MAX_LINES = 100;
export const MAX_QUANTITY = 10_000;
// totalCents is a GraphQL Int: a signed 32-bit integer.
const MAX_TOTAL_CENTS = 2_147_483_647;

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

type Order = ReturnType<typeof orderRowToOrder>;

function orderLineRowToOrderLine(row: OrderLineRow) {
  return {
    product: { id: toGlobalId(row.tenant_id, row.product_id) },
    quantity: row.quantity,
    unitPriceCents: row.unit_price_cents,
  };
}

type PlaceOrderInput = { lines: { productId: string; quantity: number }[] };

async function loadOrder(context: OrderContext, id: string) {
  const localId = localIdOf(id, context.tenantId, 'order');
  const row = localId && (await context.loaders.orderById.load(localId));
  return row ? orderRowToOrder(row) : null;
}

export const orderResolvers = {
  Tenant: {
    ...tenantEntityResolvers,
    async orders(_: unknown, args: { first?: number; after?: string; status?: OrderStatus | null }, context: OrderContext) {
      const limit = pageSize(args.first);
      const after = decodeCursor<[number]>(args.after, ['number']);
      const status = args.status ?? undefined;
      const { db, tenantId } = context;
      const rows = await withTenant(db, tenantId, (trx) => findOrders(trx, tenantId, { limit, after, status }));
      return {
        ...toConnection(rows, limit, orderRowToOrder, (row) => [row.number]),
        // Counted only when asked for, under the same filter.
        totalCount: () => withTenant(db, tenantId, (trx) => countOrders(trx, tenantId, status)),
      };
    },
    order: (_: unknown, { id }: { id: string }, context: OrderContext) => loadOrder(context, id),
  },
  Order: {
    __resolveReference: (reference: { id: string }, context: OrderContext) => loadOrder(context, reference.id),
    async lines(order: Order, _: unknown, context: OrderContext) {
      const localId = parseGlobalId(order.id)?.localId;
      const rows = localId ? await context.loaders.linesByOrderId.load(localId) : [];
      return rows.map(orderLineRowToOrderLine);
    },
  },
  Mutation: {
    async placeOrder(_: unknown, { input }: { input: PlaceOrderInput }, context: OrderContext) {
      requireScope(context.viewer, 'orders:write');
      const { tenantId } = context;
      const lines = validatePlaceOrder(input, tenantId);

      const productIds = [...new Set(lines.map((line) => line.productId))];
      const prices = await context.products.prices(productIds, { token: context.viewer.token, requestId: context.requestId });
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

      const { order, orderLines } = await withTenant(context.db, tenantId, async (trx) => {
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
        return { order, orderLines };
      });
      // The lines just written answer `lines` without another statement.
      context.loaders.linesByOrderId.prime(order.id, orderLines);
      return orderRowToOrder(order);
    },
    async cancelOrder(_: unknown, { id }: { id: string }, context: OrderContext) {
      requireScope(context.viewer, 'orders:write');
      const { tenantId } = context;
      const localId = localIdOf(id, tenantId, 'order');
      if (!localId) throw notFound('order', id);
      const row = await withTenant(context.db, tenantId, (trx) => cancelOrder(trx, tenantId, localId));
      if (!row) throw notFound('order', id);
      return orderRowToOrder(row);
    },
  },
};

/** Checks the input before anything is read; product ids become row ids of the caller's tenant. */
function validatePlaceOrder(input: PlaceOrderInput, tenantId: string) {
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
