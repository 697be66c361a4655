import { localIdOf, pagedConnection, parseGlobalId } from '@tenantgraph/core';
import { noteChanged, tenantEntityResolvers } from '@tenantgraph/server-kit';
import type { GraphQLResolveInfo } from 'graphql';
import type { ProductContext } from '../context.ts';
import { countProducts, findProducts } from './product.repository.ts';
import { createProduct } from './product.service.ts';
import { type CreateProductInput, productRowToProduct, validateCreateProduct } from './product.ts';

async function loadProduct(context: ProductContext, id: string) {
  const localId = localIdOf(id, context.tenantId, 'product');
  const row = localId && (await context.loaders.productById.load(localId));
  return row ? productRowToProduct(row) : null;
}

export const productResolvers = {
  Tenant: {
    ...tenantEntityResolvers,
    products: (_: unknown, args: { first?: number; after?: string }, { tenantId, inTenant }: ProductContext, info: GraphQLResolveInfo) =>
      pagedConnection(args, info, {
        cursor: ['string', 'string'],
        fetch: (limit, after, withTotal) => inTenant((trx) => findProducts(trx, tenantId, { limit, after, withTotal })),
        count: () => inTenant((trx) => countProducts(trx, tenantId)),
        toNode: productRowToProduct,
        cursorOf: (row) => [row.created_at.toISOString(), row.id],
      }),
    product: (_: unknown, { id }: { id: string }, context: ProductContext) => loadProduct(context, id),
  },
  Product: {
    __resolveReference: (reference: { id: string }, context: ProductContext) => loadProduct(context, reference.id),
    tenant: (product: { id: string }) => ({ id: parseGlobalId(product.id)?.tenantId }),
  },
  Mutation: {
    async createProduct(_: unknown, { input }: { input: CreateProductInput }, context: ProductContext) {
      const row = await createProduct(context, validateCreateProduct(input));
      // The tenant's product list and count changed; no product the gateway may have cached did.
      noteChanged(context, 'Tenant');
      return productRowToProduct(row);
    },
  },
};
