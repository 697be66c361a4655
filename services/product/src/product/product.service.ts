import { toGlobalId } from '@tenantgraph/core';
import { uniqueViolationAs } from '@tenantgraph/database';
import { recordEvent } from '@tenantgraph/events';
import type { TenantScope } from '@tenantgraph/server-kit';
import type { Database } from '../database.ts';
import { insertProduct } from './product.repository.ts';
import type { NewProductRow } from './product.table.ts';

/** Adds a product and its `product.created` event in one transaction: both or neither. */
export async function createProduct({ tenantId, inTenant }: TenantScope<Database>, product: Omit<NewProductRow, 'tenant_id'>) {
  return inTenant(async (trx) => {
    const row = await insertProduct(trx, tenantId, product);
    await recordEvent(trx, tenantId, {
      type: 'product.created',
      entityId: toGlobalId(tenantId, row.id),
      payload: { sku: row.sku, name: row.name, priceCents: row.price_cents, currency: row.currency },
    });
    return row;
  }).catch(uniqueViolationAs(`A product with sku "${product.sku}" already exists.`, 'sku'));
}
