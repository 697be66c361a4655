import { connect, withTenant } from '@tenantgraph/database';
import { graphql } from '@tenantgraph/testkit';
import { describe, expect } from 'vitest';
import { stackTest } from './stack.ts';

const it = stackTest;

/** The product rows per tenant in one database, as the superuser (row-level security off). */
async function productTenants(url: string): Promise<Record<string, number>> {
  const db = connect<any>(url, { max: 1 });
  try {
    const rows = await db
      .selectFrom('product')
      .select((eb) => ['tenant_id', eb.fn.countAll<number>().as('count')])
      .groupBy('tenant_id')
      .execute();
    return Object.fromEntries(rows.map((row) => [row.tenant_id, Number(row.count)]));
  } finally {
    await db.destroy();
  }
}

describe('tenant placement through the gateway', () => {
  it('serves a dedicated tenant created while the stack runs at once, from its own databases', async ({ stack }) => {
    // Onboarding as `pnpm tenant create --dedicated` does it: databases first, then the registry entry.
    for (const service of ['product', 'order', 'project', 'analytics'] as const) await stack.databases[service].addDedicated('peach');
    const registry = connect<any>(stack.databases.tenant.sharedUrl, { max: 1 });
    await withTenant(registry, 'peach', (trx) =>
      trx.insertInto('tenant').values({ id: 'peach', slug: 'peach', name: 'Peach Inc', plan: 'FREE', placement: 'dedicated' }).execute(),
    );
    await registry.destroy();

    const token = await stack.auth.token('peach', ['products:write', 'orders:write']);
    const created = await graphql(stack.gatewayUrl, {
      token,
      query: 'mutation($i: CreateProductInput!) { createProduct(input: $i) { id name } }',
      variables: { i: { sku: 'PEACH-1', name: 'White Peach', priceCents: 250, stock: 10 } },
    });
    expect(created.body.errors).toBeUndefined();
    const order = await graphql(stack.gatewayUrl, {
      token,
      query: 'mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { number totalCents } }',
      variables: { i: { lines: [{ productId: created.body.data.createProduct.id, quantity: 2 }] } },
    });
    expect(order.body.errors).toBeUndefined();
    expect(order.body.data.placeOrder).toEqual({ number: 1, totalCents: 500 });

    const read = await graphql(stack.gatewayUrl, {
      token,
      query: '{ tenant { name plan products(first: 5) { totalCount nodes { name } } } }',
    });
    expect(read.body).toEqual({
      data: { tenant: { name: 'Peach Inc', plan: 'FREE', products: { totalCount: 1, nodes: [{ name: 'White Peach' }] } } },
    });

    const product = stack.databases.product;
    expect(await productTenants(product.asAdmin(product.dedicatedUrl('peach')))).toEqual({ peach: 1 });
    expect((await productTenants(product.asAdmin(product.sharedUrl))).peach).toBeUndefined();
    // Three databases made and migrated inside the test: far more than the default 30 s on a busy machine.
  }, 120_000);

  it('keeps a tenant that is not registered out, with UNKNOWN_TENANT', async ({ stack }) => {
    const response = await graphql(stack.gatewayUrl, { token: await stack.auth.token('quince'), query: '{ tenant { name } }' });
    expect(response.body.errors?.[0]?.extensions?.code).toBe('UNKNOWN_TENANT');
  });
});
