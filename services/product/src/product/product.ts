import { badUserInput, toGlobalId } from '@tenantgraph/core';
import type { NewProductRow, ProductRow } from './product.table.ts';

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

export type CreateProductInput = { sku: string; name: string; priceCents: number; currency: string; stock: number };

/** The row to insert for `createProduct`, or BAD_USER_INPUT naming the first field that is wrong. */
export function validateCreateProduct(input: CreateProductInput): Omit<NewProductRow, 'tenant_id'> {
  const sku = input.sku.trim();
  const name = input.name.trim();
  if (sku.length === 0 || sku.length > 64) throw badUserInput('sku must be 1 to 64 characters.', 'sku');
  if (name.length === 0 || name.length > 200) throw badUserInput('name must be 1 to 200 characters.', 'name');
  if (input.priceCents < 0) throw badUserInput('priceCents cannot be negative.', 'priceCents');
  if (!/^[A-Z]{3}$/.test(input.currency)) throw badUserInput('currency must be an ISO 4217 code such as USD.', 'currency');
  if (input.stock < 0) throw badUserInput('stock cannot be negative.', 'stock');
  return { sku, name, price_cents: input.priceCents, currency: input.currency, stock: input.stock };
}
