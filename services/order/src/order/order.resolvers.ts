import { localIdOf, notFound, pagedConnection, parseGlobalId } from '@tenantgraph/core';
import { tenantEntityResolvers } from '@tenantgraph/server-kit';
import type { GraphQLResolveInfo } from 'graphql';
import type { OrderContext } from '../context.ts';
import { countOrders, findOrders } from './order.repository.ts';
import { cancelOrder, placeOrder } from './order.service.ts';
import type { OrderStatus } from './order.table.ts';
import { type Order, orderLineRowToOrderLine, orderRowToOrder, type PlaceOrderInput } from './order.ts';

async function loadOrder(context: OrderContext, id: string) {
  const localId = localIdOf(id, context.tenantId, 'order');
  const row = localId && (await context.loaders.orderById.load(localId));
  return row ? orderRowToOrder(row) : null;
}

export const orderResolvers = {
  Tenant: {
    ...tenantEntityResolvers,
    orders(
      _: unknown,
      args: { first?: number; after?: string; status?: OrderStatus | null },
      { tenantId, inTenant }: OrderContext,
      info: GraphQLResolveInfo,
    ) {
      const status = args.status ?? undefined;
      return pagedConnection(args, info, {
        cursor: ['number'],
        fetch: (limit, after, withTotal) => inTenant((trx) => findOrders(trx, tenantId, { limit, after, status, withTotal })),
        // Counted only when asked for, under the same filter.
        count: () => inTenant((trx) => countOrders(trx, tenantId, status)),
        toNode: orderRowToOrder,
        cursorOf: (row) => [row.number],
      });
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
      const caller = { token: context.viewer.token, requestId: context.requestId };
      const { order, orderLines } = await placeOrder(context, context.products, caller, input);
      // The lines just written answer `lines` without another statement.
      context.loaders.linesByOrderId.prime(order.id, orderLines);
      return orderRowToOrder(order);
    },
    async cancelOrder(_: unknown, { id }: { id: string }, context: OrderContext) {
      const localId = localIdOf(id, context.tenantId, 'order');
      if (!localId) throw notFound('order', id);
      const row = await cancelOrder(context, localId);
      if (!row) throw notFound('order', id);
      return orderRowToOrder(row);
    },
  },
};
