import { badUserInput, decodeCursor, localIdOf, pageSize, parseGlobalId, requireScope, toConnection, toGlobalId } from '@tenantgraph/core';
import { withTenant } from '@tenantgraph/database';
import { tenantEntityResolvers } from '@tenantgraph/server-kit';
import type { ProductContext } from '../context.ts';
import { countProducts, findProducts, insertProduct } from './product.repository.ts';
import type { ProductRow } from './product.table.ts';

export function productRowToProduct(row: ProductRow) {
  return {
    id: toGlobalId(row.tenant_id, row.id),
    tenant: { id: row.tenant_id },
    sku: row.sku,
    name: row.name,
    priceCents: row.price_cents,
    currency: row.currency,
    stock: row.stock,
    createdAt: row.created_at,
  };
}

type CreateProductInput = { sku: string; name: string; priceCents: number; currency: string; stock: number };

async function loadProduct(context: ProductContext, id: string) {
  const localId = localIdOf(id, context.tenantId, 'product');
  const row = localId && (await context.loaders.productById.load(localId));
  return row ? productRowToProduct(row) : null;
}

export const productResolvers = {
  Tenant: {
    ...tenantEntityResolvers,
    async products(_: unknown, args: { first?: number; after?: string }, context: ProductContext) {
      const limit = pageSize(args.first);
      const after = decodeCursor<[string, string]>(args.after, ['string', 'string']);
      const { db, tenantId } = context;
      const rows = await withTenant(db, tenantId, (trx) => findProducts(trx, tenantId, { limit, after }));
      return {
        ...toConnection(rows, limit, productRowToProduct, (row) => [row.created_at.toISOString(), row.id]),
        // Counted only when asked for.
        totalCount: () => withTenant(db, tenantId, (trx) => countProducts(trx, tenantId)),
      };
    },
    product: (_: unknown, { id }: { id: string }, context: ProductContext) => loadProduct(context, id),
  },
  Product: {
    __resolveReference: (reference: { id: string }, context: ProductContext) => loadProduct(context, reference.id),
    tenant: (product: { id: string }) => ({ id: parseGlobalId(product.id)?.tenantId }),
  },
  Mutation: {
    async createProduct(_: unknown, { input }: { input: CreateProductInput }, context: ProductContext) {
      requireScope(context.viewer, 'products:write');
      const product = validateCreateProduct(input);
      const row = await withTenant(context.db, context.tenantId, (trx) => insertProduct(trx, context.tenantId, product)).catch(
        (error: { code?: string }) => {
          if (error.code === '23505') throw badUserInput(`A product with sku "${product.sku}" already exists.`, 'sku');
          throw error;
        },
      );
      return productRowToProduct(row);
    },
  },
};

function validateCreateProduct(input: CreateProductInput) {
  const sku = input.sku.trim();
  const name = input.name.trim();
  if (sku.length === 0 || sku.length > 64) throw badUserInput('sku must be 1 to 64 characters.', 'sku');
  if (name.length === 0 || name.length > 200) throw badUserInput('name must be 1 to 200 characters.', 'name');
  if (input.priceCents < 0) throw badUserInput('priceCents cannot be negative.', 'priceCents');
  if (!/^[A-Z]{3}$/.test(input.currency)) throw badUserInput('currency must be an ISO 4217 code such as USD.', 'currency');
  if (input.stock < 0) throw badUserInput('stock cannot be negative.', 'stock');
  return { sku, name, price_cents: input.priceCents, currency: input.currency, stock: input.stock };
}
