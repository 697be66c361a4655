import { connect } from '@tenantgraph/database';
import { codes, dataSubgraphTest, graphql, outboxEvents } from '@tenantgraph/testkit';
import { sql } from 'kysely';
import { describe, expect } from 'vitest';
import type { Database } from '../src/database.ts';
import { createProductServer, migrationsFolder } from '../src/server.ts';

const it = dataSubgraphTest<Database>({ service: 'product', migrationsFolder, create: createProductServer });

const CREATE = `mutation($input: CreateProductInput!) {
  createProduct(input: $input) { id sku name priceCents currency stock createdAt tenant { id } }
}`;
const PAGE = `query($r: [_Any!]!, $first: Int, $after: String) {
  _entities(representations: $r) { ... on Tenant { products(first: $first, after: $after) { totalCount nodes { id sku } pageInfo { hasNextPage endCursor } } } }
}`;
const ENTITIES = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id sku name } } }';

describe('product subgraph', () => {
  it("creates products in the tenant's own database and pages through them", async ({ auth, url, databases }) => {
    for (const tenant of ['avocado', 'mango']) {
      const token = await auth.token(tenant, ['products:write']);
      for (const sku of ['A', 'B', 'C']) {
        const created = await graphql(url, {
          token,
          query: CREATE,
          variables: { input: { sku: `${tenant}-${sku}`, name: sku, priceCents: 250 } },
        });
        expect(created.body.errors).toBeUndefined();
        expect(created.body.data.createProduct).toMatchObject({
          sku: `${tenant}-${sku}`,
          priceCents: 250,
          currency: 'USD',
          stock: 0,
          tenant: { id: tenant },
        });
        expect(created.body.data.createProduct.id).toMatch(new RegExp(`^${tenant}:`));
      }
    }
    const token = await auth.token('mango');
    const r = [{ __typename: 'Tenant', id: 'mango' }];
    const first = await graphql(url, { token, query: PAGE, variables: { r, first: 2 } });
    const page1 = first.body.data._entities[0].products;
    expect(page1.totalCount).toBe(3);
    expect(page1.nodes.map((p: { sku: string }) => p.sku)).toEqual(['mango-A', 'mango-B']);
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const second = await graphql(url, { token, query: PAGE, variables: { r, first: 2, after: page1.pageInfo.endCursor } });
    const page2 = second.body.data._entities[0].products;
    expect(page2.nodes.map((p: { sku: string }) => p.sku)).toEqual(['mango-C']);
    expect(page2.pageInfo.hasNextPage).toBe(false);

    // Placement: mango's rows are only in its dedicated database, avocado's only in the shared one.
    const count = async (databaseUrl: string, tenant: string) => {
      const db = connect(databases.asAdmin(databaseUrl));
      try {
        const { rows } = await sql<{ n: number }>`select count(*)::int as n from product where tenant_id = ${tenant}`.execute(db);
        return rows[0]?.n;
      } finally {
        await db.destroy();
      }
    };
    expect(await count(databases.dedicatedUrl('mango'), 'mango')).toBe(3);
    expect(await count(databases.sharedUrl, 'mango')).toBe(0);
    expect(await count(databases.sharedUrl, 'avocado')).toBe(3);
    expect(await count(databases.dedicatedUrl('mango'), 'avocado')).toBe(0);
  });

  it('writes one product.created event with each product, in its own database, and none for a refused one', async ({
    auth,
    url,
    databases,
  }) => {
    const shared = databases.asAdmin(databases.sharedUrl);
    const dedicated = databases.asAdmin(databases.dedicatedUrl('mango'));
    const before = { shared: (await outboxEvents(shared)).length, dedicated: (await outboxEvents(dedicated)).length };
    const created: Record<string, string> = {};
    for (const tenant of ['avocado', 'mango']) {
      const token = await auth.token(tenant, ['products:write']);
      const input = { sku: `${tenant}-evt`, name: 'Evented', priceCents: 120, currency: 'EUR' };
      const response = await graphql(url, { token, query: CREATE, variables: { input } });
      created[tenant] = response.body.data.createProduct.id;
      // The same sku again: refused, and nothing is written, the event included.
      const again = await graphql(url, { token, query: CREATE, variables: { input } });
      expect(codes(again)).toEqual(['BAD_USER_INPUT']);
    }
    const sharedEvents = (await outboxEvents(shared)).slice(before.shared);
    const dedicatedEvents = (await outboxEvents(dedicated)).slice(before.dedicated);
    expect(sharedEvents).toEqual([
      expect.objectContaining({
        tenant_id: 'avocado',
        type: 'product.created',
        entity_id: created.avocado,
        payload: { sku: 'avocado-evt', name: 'Evented', priceCents: 120, currency: 'EUR' },
      }),
    ]);
    expect(dedicatedEvents).toEqual([expect.objectContaining({ tenant_id: 'mango', type: 'product.created', entity_id: created.mango })]);
  });

  it('refuses bad input with BAD_USER_INPUT and creates nothing', async ({ auth, url }) => {
    const token = await auth.token('avocado', ['products:write']);
    const cases = [
      [{ sku: 'neg', name: 'Negative', priceCents: -1 }, 'priceCents'],
      [{ sku: 'empty', name: '  ', priceCents: 1 }, 'name'],
      [{ sku: 'cur', name: 'Currency', priceCents: 1, currency: 'dollars' }, 'currency'],
      [{ sku: 'stock', name: 'Stock', priceCents: 1, stock: -5 }, 'stock'],
    ] as const;
    for (const [input, field] of cases) {
      const response = await graphql(url, { token, query: CREATE, variables: { input } });
      expect(codes(response)).toEqual(['BAD_USER_INPUT']);
      expect(response.body.errors?.[0]?.extensions).toMatchObject({ field });
    }
    await graphql(url, { token, query: CREATE, variables: { input: { sku: 'dup', name: 'Dup', priceCents: 1 } } });
    const duplicate = await graphql(url, { token, query: CREATE, variables: { input: { sku: 'dup', name: 'Dup', priceCents: 1 } } });
    expect(codes(duplicate)).toEqual(['BAD_USER_INPUT']);
    const skus = await graphql(url, { token, query: PAGE, variables: { r: [{ __typename: 'Tenant', id: 'avocado' }], first: 100 } });
    expect(skus.body.data._entities[0].products.nodes.map((p: { sku: string }) => p.sku)).not.toContain('neg');
  });

  it('needs products:write to create a product', async ({ auth, url }) => {
    const response = await graphql(url, {
      token: await auth.token('avocado', ['orders:write']),
      query: CREATE,
      variables: { input: { sku: 'noscope', name: 'No scope', priceCents: 1 } },
    });
    expect(codes(response)).toEqual(['FORBIDDEN']);
  });

  it("answers another tenant's product id or representation with FORBIDDEN, never its fields", async ({ auth, url }) => {
    const mangoToken = await auth.token('mango', ['products:write']);
    const created = await graphql(url, {
      token: mangoToken,
      query: CREATE,
      variables: { input: { sku: 'secret', name: 'Mango secret', priceCents: 9 } },
    });
    const mangoId = created.body.data.createProduct.id as string;
    const avocadoToken = await auth.token('avocado');

    const byRepresentation = await graphql(url, {
      token: avocadoToken,
      query: ENTITIES,
      variables: { r: [{ __typename: 'Product', id: mangoId }] },
    });
    expect(codes(byRepresentation)).toEqual(['FORBIDDEN']);
    const byTenant = await graphql(url, { token: avocadoToken, query: PAGE, variables: { r: [{ __typename: 'Tenant', id: 'mango' }] } });
    expect(codes(byTenant)).toEqual(['FORBIDDEN']);
    // The same uuid under the caller's own tenant prefix finds nothing: rows are looked up by tenant too.
    const relabelled = mangoId.replace('mango:', 'avocado:');
    const spoofed = await graphql(url, {
      token: avocadoToken,
      query: ENTITIES,
      variables: { r: [{ __typename: 'Product', id: relabelled }] },
    });
    expect(spoofed.body.data._entities).toEqual([null]);
    for (const response of [byRepresentation, byTenant, spoofed]) expect(JSON.stringify(response.body)).not.toContain('Mango secret');
  });

  it('rejects a page size over 100 and a forged cursor', async ({ auth, url }) => {
    const token = await auth.token('avocado');
    const r = [{ __typename: 'Tenant', id: 'avocado' }];
    expect(codes(await graphql(url, { token, query: PAGE, variables: { r, first: 101 } }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await graphql(url, { token, query: PAGE, variables: { r, after: 'bm90LWEtY3Vyc29y' } }))).toEqual(['BAD_USER_INPUT']);
  });

  it('resolves 50 product representations with as many statements as 5', async ({ auth, url, metrics }) => {
    const token = await auth.token('avocado', ['products:write']);
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      const created = await graphql(url, {
        token,
        query: CREATE,
        variables: { input: { sku: `bulk-${i}`, name: `Bulk ${i}`, priceCents: i } },
      });
      ids.push(created.body.data.createProduct.id);
    }
    const statementsFor = async (count: number) => {
      const before = metrics.queryCount();
      const response = await graphql(url, {
        token,
        query: ENTITIES,
        variables: { r: ids.slice(0, count).map((id) => ({ __typename: 'Product', id })) },
      });
      expect(response.body.data._entities).toHaveLength(count);
      return metrics.queryCount() - before;
    };
    expect(await statementsFor(50)).toBe(await statementsFor(5));
  });

  it("reads totalCount in the first page's own statement, and counts apart only after a cursor", async ({
    auth,
    url,
    metrics,
    databases,
  }) => {
    const token = await auth.token('avocado', ['products:write']);
    for (const sku of ['count-1', 'count-2', 'count-3']) {
      await graphql(url, { token, query: CREATE, variables: { input: { sku, name: sku, priceCents: 1 } } });
    }
    const db = connect(databases.asAdmin(databases.sharedUrl));
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from product where tenant_id = 'avocado'`
      .execute(db)
      .finally(() => db.destroy());
    const r = [{ __typename: 'Tenant', id: 'avocado' }];
    const read = async (query: string, variables: Record<string, unknown>) => {
      const before = metrics.queryCount();
      const response = await graphql(url, { token, query, variables });
      expect(response.body.errors).toBeUndefined();
      return { products: response.body.data._entities[0].products, statements: metrics.queryCount() - before };
    };
    const first = await read(PAGE, { r, first: 2 });
    expect(first).toMatchObject({ statements: 1, products: { totalCount: rows[0]?.n } });
    const next = await read(PAGE, { r, first: 2, after: first.products.pageInfo.endCursor });
    expect(next).toMatchObject({ statements: 2, products: { totalCount: rows[0]?.n } });
    // Through a fragment too; and a page that does not ask for it counts nothing.
    const FRAGMENT = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Tenant { products(first: 2) { ...Counted nodes { id } } } } }
      fragment Counted on ProductConnection { totalCount }`;
    expect(await read(FRAGMENT, { r })).toMatchObject({ statements: 1, products: { totalCount: rows[0]?.n } });
    const NODES = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Tenant { products(first: 2) { nodes { id } } } } }';
    expect((await read(NODES, { r })).statements).toBe(1);
  });
});
