import { localIdOf } from '@tenantgraph/core';
import type { OrderContext } from '../context.ts';

/** This subgraph's share of the `Product` entity: how many units the tenant's placed orders hold. */
export const productResolvers = {
  Product: {
    __resolveReference(reference: { id: string }, context: OrderContext) {
      // No row is read: the tenant in the id decides, and the product subgraph owns existence.
      return localIdOf(reference.id, context.tenantId, 'product') ? { id: reference.id } : null;
    },
    unitsOrdered(product: { id: string }, _: unknown, context: OrderContext) {
      const localId = localIdOf(product.id, context.tenantId, 'product');
      return localId ? context.loaders.unitsOrderedByProductId.load(localId) : 0;
    },
  },
};
