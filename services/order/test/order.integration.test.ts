import { createLogger } from '@tenantgraph/core';
import { connect, createDatabaseRouter } from '@tenantgraph/database';
import { createProductServer, type ProductServerDeps, migrationsFolder as productMigrations } from '@tenantgraph/product';
import { createMetrics } from '@tenantgraph/server-kit';
import {
  codes,
  createServiceDatabases,
  dataSubgraphTest,
  freePort,
  type GraphQLResponse,
  graphql,
  outboxEvents,
  type ServiceDatabases,
  staticRegistry,
} from '@tenantgraph/testkit';
import { sql } from 'kysely';
import { describe, expect } from 'vitest';
import type { Database } from '../src/database.ts';
import { createProductClient, type ProductClient } from '../src/product/product.client.ts';
import { createOrderServer, migrationsFolder } from '../src/server.ts';

/** The real product subgraph, over its own databases, trusting the same identity provider. */
type ProductSubgraph = {
  url: string;
  databases: ServiceDatabases;
  /** Creates a product through `createProduct` with a real token; resolves with its global id. */
  create(tenant: string, input: { priceCents: number; currency?: string; name?: string }): Promise<string>;
};

// The product subgraph listens on a port chosen when its fixture starts, after the order
// server's dependencies are built: the real client is made with the URL of the moment.
let productUrl = '';
const products: ProductClient = { prices: (ids, caller) => createProductClient(productUrl).prices(ids, caller) };

const it = dataSubgraphTest<Database>({
  service: 'order',
  migrationsFolder,
  create: (deps) => createOrderServer({ ...deps, products }),
}).extend<{ product: ProductSubgraph }>({
  product: [
    async ({ auth }, use) => {
      const databases = await createServiceDatabases({
        service: 'product',
        migrationsFolder: productMigrations,
        dedicatedTenants: ['mango'],
      });
      const router: ProductServerDeps['databases'] = createDatabaseRouter({ sharedUrl: databases.sharedUrl, registry: staticRegistry() });
      const server = createProductServer({
        databases: router,
        verifier: auth.verifier,
        logger: createLogger({ service: 'product' }, process.env.TEST_LOG_LEVEL ?? 'silent'),
        metrics: createMetrics('product'),
        ready: async () => {},
      });
      productUrl = `http://127.0.0.1:${await server.start(0, '127.0.0.1')}/graphql`;
      let sku = 0;
      await use({
        url: productUrl,
        databases,
        async create(tenant, { priceCents, currency = 'USD', name = 'Thing' }) {
          const response = await graphql(productUrl, {
            token: await auth.token(tenant, ['products:write']),
            query: 'mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }',
            variables: { input: { sku: `sku-${++sku}`, name, priceCents, currency } },
          });
          expect(response.body.errors).toBeUndefined();
          return response.body.data.createProduct.id as string;
        },
      });
      await server.stop();
      await databases.drop();
    },
    { scope: 'file', auto: true },
  ],
});

const ORDER_FIELDS = 'id number status currency totalCents placedAt tenant { id } lines { quantity unitPriceCents product { id } }';
const PLACE = `mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { ${ORDER_FIELDS} } }`;
const CANCEL = `mutation($id: ID!) { cancelOrder(id: $id) { ${ORDER_FIELDS} } }`;
const ORDERS = `query($r: [_Any!]!, $first: Int, $after: String, $status: OrderStatus) {
  _entities(representations: $r) { ... on Tenant { orders(first: $first, after: $after, status: $status) {
    totalCount nodes { id number status lines { quantity unitPriceCents product { id unitsOrdered } } } pageInfo { hasNextPage endCursor }
  } } }
}`;
const ORDER_BY_ID = 'query($r: [_Any!]!, $id: ID!) { _entities(representations: $r) { ... on Tenant { order(id: $id) { id number } } } }';
const ORDER_ENTITIES = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Order {
  id number totalCents lines { quantity unitPriceCents product { id unitsOrdered } }
} } }`;
const PRODUCT_ENTITIES = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id unitsOrdered } } }';
const PRODUCT_PRICES = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id priceCents currency stock } } }';

type Line = { productId: string; quantity: number };
const ORDERS_WRITE = ['orders:write'];

/** Every order number of a tenant, newest first, read page by page through the API. */
async function allOrderNumbers(url: string, token: string, tenant: string, status?: string) {
  const numbers: number[] = [];
  let after: string | null = null;
  let totalCount = 0;
  do {
    const response: GraphQLResponse = await graphql(url, {
      token,
      query: ORDERS,
      variables: { r: [{ __typename: 'Tenant', id: tenant }], first: 100, after, status },
    });
    expect(response.body.errors).toBeUndefined();
    const page: { totalCount: number; nodes: { number: number }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } =
      response.body.data._entities[0].orders;
    totalCount = page.totalCount;
    numbers.push(...page.nodes.map((order: { number: number }) => order.number));
    after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
  } while (after);
  expect(numbers).toHaveLength(totalCount);
  return numbers;
}

const countRows = async (databases: ServiceDatabases, databaseUrl: string, table: string, tenant: string) => {
  const db = connect(databases.asAdmin(databaseUrl));
  try {
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)} where tenant_id = ${tenant}`.execute(db);
    return rows[0]?.n;
  } finally {
    await db.destroy();
  }
};

describe('order subgraph', () => {
  it('places orders for both tenants at the price of the moment, each in its own database', async ({ auth, url, databases, product }) => {
    for (const tenant of ['avocado', 'mango']) {
      const token = await auth.token(tenant, ORDERS_WRITE);
      const cheap = await product.create(tenant, { priceCents: 250 });
      const dear = await product.create(tenant, { priceCents: 1_999 });
      const lines: Line[] = [
        { productId: cheap, quantity: 3 },
        { productId: dear, quantity: 2 },
      ];
      const placed = await graphql(url, { token, query: PLACE, variables: { input: { lines } } });
      expect(placed.body.errors).toBeUndefined();
      const order = placed.body.data.placeOrder;
      expect(order).toMatchObject({
        number: 1,
        status: 'PLACED',
        currency: 'USD',
        totalCents: 3 * 250 + 2 * 1_999,
        tenant: { id: tenant },
        lines: [
          { product: { id: cheap }, quantity: 3, unitPriceCents: 250 },
          { product: { id: dear }, quantity: 2, unitPriceCents: 1_999 },
        ],
      });
      expect(order.id).toMatch(new RegExp(`^${tenant}:[0-9a-f-]{36}$`));
      expect(Number.isNaN(Date.parse(order.placedAt))).toBe(false);

      // Ordering changes nothing in the catalogue.
      const catalogue = await graphql(product.url, {
        token,
        query: PRODUCT_PRICES,
        variables: { r: [cheap, dear].map((id) => ({ __typename: 'Product', id })) },
      });
      expect(catalogue.body.data._entities).toEqual([
        { id: cheap, priceCents: 250, currency: 'USD', stock: 0 },
        { id: dear, priceCents: 1_999, currency: 'USD', stock: 0 },
      ]);

      // A later price change leaves the placed order alone; the next order takes the new price.
      const productDb = connect(
        product.databases.asAdmin(tenant === 'mango' ? product.databases.dedicatedUrl('mango') : product.databases.sharedUrl),
      );
      try {
        await sql`update product set price_cents = 300 where tenant_id = ${tenant} and id = ${cheap.split(':')[1]}`.execute(productDb);
      } finally {
        await productDb.destroy();
      }
      const next = await graphql(url, { token, query: PLACE, variables: { input: { lines: [{ productId: cheap, quantity: 1 }] } } });
      expect(next.body.data.placeOrder).toMatchObject({ number: 2, totalCents: 300, lines: [{ unitPriceCents: 300 }] });
      const again = await graphql(url, {
        token,
        query: ORDER_BY_ID,
        variables: { r: [{ __typename: 'Tenant', id: tenant }], id: order.id },
      });
      expect(again.body.data._entities[0].order).toEqual({ id: order.id, number: 1 });
      const first = await graphql(url, { token, query: ORDER_ENTITIES, variables: { r: [{ __typename: 'Order', id: order.id }] } });
      expect(first.body.data._entities[0]).toMatchObject({
        totalCents: 3 * 250 + 2 * 1_999,
        lines: [{ unitPriceCents: 250 }, { unitPriceCents: 1_999 }],
      });
    }

    // Placement: mango's rows are only in its dedicated database, avocado's only in the shared one.
    for (const table of ['sales_order', 'sales_order_line', 'order_number_counter']) {
      const expected = { sales_order: 2, sales_order_line: 3, order_number_counter: 1 }[table];
      expect(await countRows(databases, databases.dedicatedUrl('mango'), table, 'mango')).toBe(expected);
      expect(await countRows(databases, databases.sharedUrl, table, 'mango')).toBe(0);
      expect(await countRows(databases, databases.sharedUrl, table, 'avocado')).toBe(expected);
      expect(await countRows(databases, databases.dedicatedUrl('mango'), table, 'avocado')).toBe(0);
    }
  });

  it('numbers 20 concurrent orders of one tenant without gaps or duplicates, apart from the other tenant', async ({
    auth,
    url,
    product,
  }) => {
    const avocado = await auth.token('avocado', ORDERS_WRITE);
    const mango = await auth.token('mango', ORDERS_WRITE);
    const avocadoProduct = await product.create('avocado', { priceCents: 10 });
    const mangoProduct = await product.create('mango', { priceCents: 10 });
    const avocadoBefore = (await allOrderNumbers(url, avocado, 'avocado')).length;
    const mangoBefore = (await allOrderNumbers(url, mango, 'mango')).length;

    const place = (token: string, productId: string) =>
      graphql(url, { token, query: PLACE, variables: { input: { lines: [{ productId, quantity: 1 }] } } });
    const responses = await Promise.all([
      ...Array.from({ length: 20 }, () => place(avocado, avocadoProduct)),
      ...Array.from({ length: 3 }, () => place(mango, mangoProduct)),
    ]);
    for (const response of responses) expect(response.body.errors).toBeUndefined();
    const numbersOf = (tenant: string) =>
      responses
        .map((response) => response.body.data.placeOrder)
        .filter((order) => order.tenant.id === tenant)
        .map((order) => order.number as number)
        .sort((a, b) => a - b);
    expect(numbersOf('avocado')).toEqual(Array.from({ length: 20 }, (_, i) => avocadoBefore + i + 1));
    expect(numbersOf('mango')).toEqual([mangoBefore + 1, mangoBefore + 2, mangoBefore + 3]);

    // Every order a tenant ever placed: exactly 1..N.
    const all = await allOrderNumbers(url, avocado, 'avocado');
    expect(all).toEqual(Array.from({ length: all.length }, (_, i) => all.length - i));
  });

  it('refuses a placement it cannot honour, creating nothing and consuming no number', async ({ auth, url, databases, product }) => {
    const token = await auth.token('avocado', ORDERS_WRITE);
    const usd = await product.create('avocado', { priceCents: 100 });
    const eur = await product.create('avocado', { priceCents: 100, currency: 'EUR' });
    const mangoProduct = await product.create('mango', { priceCents: 100, name: 'Mango secret' });
    const before = await allOrderNumbers(url, token, 'avocado');
    const linesBefore = await countRows(databases, databases.sharedUrl, 'sales_order_line', 'avocado');
    const unknown = 'avocado:00000000-0000-4000-8000-000000000000';

    const cases: [Line[], string, string?][] = [
      [[{ productId: unknown, quantity: 1 }], 'NOT_FOUND'],
      [
        [
          { productId: usd, quantity: 1 },
          { productId: 'not-an-id', quantity: 1 },
        ],
        'NOT_FOUND',
      ],
      [
        [
          { productId: usd, quantity: 1 },
          { productId: mangoProduct, quantity: 1 },
        ],
        'FORBIDDEN',
      ],
      [[{ productId: usd, quantity: 0 }], 'BAD_USER_INPUT', 'quantity'],
      [[{ productId: usd, quantity: 10_001 }], 'BAD_USER_INPUT', 'quantity'],
      [[], 'BAD_USER_INPUT', 'lines'],
      [Array.from({ length: 101 }, () => ({ productId: usd, quantity: 1 })), 'BAD_USER_INPUT', 'lines'],
      [
        [
          { productId: usd, quantity: 1 },
          { productId: eur, quantity: 1 },
        ],
        'BAD_USER_INPUT',
        'lines',
      ],
    ];
    for (const [lines, code, field] of cases) {
      const response = await graphql(url, { token, query: PLACE, variables: { input: { lines } } });
      expect(codes(response)).toEqual([code]);
      if (field) expect(response.body.errors?.[0]?.extensions).toMatchObject({ field });
      expect(JSON.stringify(response.body)).not.toContain('Mango secret');
    }
    const noScope = await graphql(url, {
      token: await auth.token('avocado', ['products:write']),
      query: PLACE,
      variables: { input: { lines: [{ productId: usd, quantity: 1 }] } },
    });
    expect(codes(noScope)).toEqual(['FORBIDDEN']);

    expect(await allOrderNumbers(url, token, 'avocado')).toEqual(before);
    expect(await countRows(databases, databases.sharedUrl, 'sales_order_line', 'avocado')).toBe(linesBefore);
    const next = await graphql(url, { token, query: PLACE, variables: { input: { lines: [{ productId: eur, quantity: 2 }] } } });
    expect(next.body.data.placeOrder).toMatchObject({ number: before.length + 1, currency: 'EUR', totalCents: 200 });
  });

  it('orders a product created a moment ago', async ({ auth, url, product }) => {
    const token = await auth.token('mango', ORDERS_WRITE);
    const fresh = await product.create('mango', { priceCents: 4_200 });
    const placed = await graphql(url, { token, query: PLACE, variables: { input: { lines: [{ productId: fresh, quantity: 1 }] } } });
    expect(placed.body.errors).toBeUndefined();
    expect(placed.body.data.placeOrder).toMatchObject({ totalCents: 4_200, lines: [{ product: { id: fresh }, unitPriceCents: 4_200 }] });
  });

  it('cancels an order once, needing orders:write and refusing unknown and foreign ids', async ({ auth, url, product }) => {
    const token = await auth.token('avocado', ORDERS_WRITE);
    const productId = await product.create('avocado', { priceCents: 5 });
    const placed = await graphql(url, { token, query: PLACE, variables: { input: { lines: [{ productId, quantity: 1 }] } } });
    const order = placed.body.data.placeOrder;
    const mangoToken = await auth.token('mango', ORDERS_WRITE);
    const mangoProduct = await product.create('mango', { priceCents: 5 });
    const mangoOrder = (
      await graphql(url, { token: mangoToken, query: PLACE, variables: { input: { lines: [{ productId: mangoProduct, quantity: 1 }] } } })
    ).body.data.placeOrder;

    const readOnly = await auth.token('avocado', ['products:write']);
    expect(codes(await graphql(url, { token: readOnly, query: CANCEL, variables: { id: order.id } }))).toEqual(['FORBIDDEN']);
    const unknown = 'avocado:00000000-0000-4000-8000-000000000000';
    expect(codes(await graphql(url, { token, query: CANCEL, variables: { id: unknown } }))).toEqual(['NOT_FOUND']);
    expect(codes(await graphql(url, { token, query: CANCEL, variables: { id: 'garbage' } }))).toEqual(['NOT_FOUND']);
    const foreign = await graphql(url, { token, query: CANCEL, variables: { id: mangoOrder.id } });
    expect(codes(foreign)).toEqual(['FORBIDDEN']);
    const stillPlaced = await graphql(url, {
      token: mangoToken,
      query: ORDER_BY_ID,
      variables: { r: [{ __typename: 'Tenant', id: 'mango' }], id: mangoOrder.id },
    });
    expect(stillPlaced.body.data._entities[0].order).toEqual({ id: mangoOrder.id, number: mangoOrder.number });

    const cancelled = await graphql(url, { token, query: CANCEL, variables: { id: order.id } });
    expect(cancelled.body.errors).toBeUndefined();
    expect(cancelled.body.data.cancelOrder).toEqual({ ...order, status: 'CANCELLED' });
    const twice = await graphql(url, { token, query: CANCEL, variables: { id: order.id } });
    expect(twice.body.data.cancelOrder).toEqual(cancelled.body.data.cancelOrder);
  });

  it('writes order.placed with each order and order.cancelled once per cancellation, in the same transaction', async ({
    auth,
    url,
    databases,
    product,
  }) => {
    const shared = databases.asAdmin(databases.sharedUrl);
    const dedicated = databases.asAdmin(databases.dedicatedUrl('mango'));
    const count = async () => ({ shared: (await outboxEvents(shared)).length, dedicated: (await outboxEvents(dedicated)).length });
    const before = await count();
    const token = await auth.token('avocado', ORDERS_WRITE);
    const productId = await product.create('avocado', { priceCents: 7 });
    const order = (await graphql(url, { token, query: PLACE, variables: { input: { lines: [{ productId, quantity: 3 }] } } })).body.data
      .placeOrder;
    await graphql(url, { token, query: CANCEL, variables: { id: order.id } });
    // Cancelling a cancelled order changes nothing, so it says nothing.
    await graphql(url, { token, query: CANCEL, variables: { id: order.id } });
    // A refused placement (unknown product) writes no event.
    const refused = await graphql(url, {
      token,
      query: PLACE,
      variables: { input: { lines: [{ productId: 'avocado:00000000-0000-4000-8000-000000000000', quantity: 1 }] } },
    });
    expect(codes(refused)).toEqual(['NOT_FOUND']);
    const mangoToken = await auth.token('mango', ORDERS_WRITE);
    const mangoProduct = await product.create('mango', { priceCents: 9 });
    const mangoOrder = (
      await graphql(url, { token: mangoToken, query: PLACE, variables: { input: { lines: [{ productId: mangoProduct, quantity: 1 }] } } })
    ).body.data.placeOrder;

    const events = (await outboxEvents(shared)).slice(before.shared);
    expect(events).toEqual([
      expect.objectContaining({
        tenant_id: 'avocado',
        type: 'order.placed',
        entity_id: order.id,
        payload: expect.objectContaining({ number: order.number, totalCents: 21 }),
      }),
      expect.objectContaining({ tenant_id: 'avocado', type: 'order.cancelled', entity_id: order.id }),
    ]);
    expect((await outboxEvents(dedicated)).slice(before.dedicated)).toEqual([
      expect.objectContaining({ tenant_id: 'mango', type: 'order.placed', entity_id: mangoOrder.id }),
    ]);
  });

  it('counts units ordered over placed orders only', async ({ auth, url, product }) => {
    const token = await auth.token('avocado', ORDERS_WRITE);
    const counted = await product.create('avocado', { priceCents: 1 });
    const never = await product.create('avocado', { priceCents: 1 });
    const place = async (quantity: number) =>
      (await graphql(url, { token, query: PLACE, variables: { input: { lines: [{ productId: counted, quantity }] } } })).body.data
        .placeOrder;
    await place(3);
    await place(4);
    const cancelled = await place(50);
    await graphql(url, { token, query: CANCEL, variables: { id: cancelled.id } });

    const units = await graphql(url, {
      token,
      query: PRODUCT_ENTITIES,
      variables: { r: [counted, never].map((id) => ({ __typename: 'Product', id })) },
    });
    expect(units.body.data._entities).toEqual([
      { id: counted, unitsOrdered: 7 },
      { id: never, unitsOrdered: 0 },
    ]);
    const throughOrder = await graphql(url, {
      token,
      query: ORDER_ENTITIES,
      variables: { r: [{ __typename: 'Order', id: cancelled.id }] },
    });
    expect(throughOrder.body.data._entities[0].lines[0].product).toEqual({ id: counted, unitsOrdered: 7 });
    // mango sees none of avocado's orders, even for the same product uuid under its own prefix.
    const relabelled = counted.replace('avocado:', 'mango:');
    const mango = await graphql(url, {
      token: await auth.token('mango'),
      query: PRODUCT_ENTITIES,
      variables: { r: [{ __typename: 'Product', id: relabelled }] },
    });
    expect(mango.body.data._entities).toEqual([{ id: relabelled, unitsOrdered: 0 }]);
  });

  it('lists orders newest first, page by page, filtered by status', async ({ auth, url, product }) => {
    const token = await auth.token('mango', ORDERS_WRITE);
    const productId = await product.create('mango', { priceCents: 7 });
    for (let i = 0; i < 5; i++) {
      const placed = await graphql(url, { token, query: PLACE, variables: { input: { lines: [{ productId, quantity: 1 }] } } });
      if (i % 2 === 0) await graphql(url, { token, query: CANCEL, variables: { id: placed.body.data.placeOrder.id } });
    }
    const all = await allOrderNumbers(url, token, 'mango');
    const placed = await allOrderNumbers(url, token, 'mango', 'PLACED');
    const cancelled = await allOrderNumbers(url, token, 'mango', 'CANCELLED');
    expect(all).toEqual([...all].sort((a, b) => b - a));
    expect([...placed, ...cancelled].sort((a, b) => b - a)).toEqual(all);
    expect(cancelled.length).toBeGreaterThanOrEqual(3);

    const r = [{ __typename: 'Tenant', id: 'mango' }];
    const page1 = (await graphql(url, { token, query: ORDERS, variables: { r, first: 2, status: 'CANCELLED' } })).body.data._entities[0]
      .orders;
    expect(page1.totalCount).toBe(cancelled.length);
    expect(page1.nodes.map((order: { number: number }) => order.number)).toEqual(cancelled.slice(0, 2));
    expect(page1.nodes.every((order: { status: string }) => order.status === 'CANCELLED')).toBe(true);
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const page2 = (
      await graphql(url, { token, query: ORDERS, variables: { r, first: 2, status: 'CANCELLED', after: page1.pageInfo.endCursor } })
    ).body.data._entities[0].orders;
    expect(page2.nodes.map((order: { number: number }) => order.number)).toEqual(cancelled.slice(2, 4));

    expect(codes(await graphql(url, { token, query: ORDERS, variables: { r, first: 101 } }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await graphql(url, { token, query: ORDERS, variables: { r, after: 'bm90LWEtY3Vyc29y' } }))).toEqual(['BAD_USER_INPUT']);
  });

  it("answers another tenant's order, product or tenant representation with FORBIDDEN, never its data", async ({ auth, url, product }) => {
    const mangoToken = await auth.token('mango', ORDERS_WRITE);
    const mangoProduct = await product.create('mango', { priceCents: 31_337 });
    const mangoOrder = (
      await graphql(url, { token: mangoToken, query: PLACE, variables: { input: { lines: [{ productId: mangoProduct, quantity: 7 }] } } })
    ).body.data.placeOrder;
    const avocado = await auth.token('avocado');
    const secrets = [mangoOrder.id.split(':')[1], mangoProduct.split(':')[1], '31337', String(7 * 31_337)];

    const forged = [
      [ORDER_ENTITIES, { __typename: 'Order', id: mangoOrder.id }],
      [PRODUCT_ENTITIES, { __typename: 'Product', id: mangoProduct }],
      [ORDERS, { __typename: 'Tenant', id: 'mango' }],
    ] as const;
    for (const [query, representation] of forged) {
      const response = await graphql(url, { token: avocado, query, variables: { r: [representation] } });
      expect(codes(response)).toEqual(['FORBIDDEN']);
      for (const secret of secrets) expect(JSON.stringify(response.body)).not.toContain(secret);
    }
    const byId = await graphql(url, {
      token: avocado,
      query: ORDER_BY_ID,
      variables: { r: [{ __typename: 'Tenant', id: 'avocado' }], id: mangoOrder.id },
    });
    expect(codes(byId)).toEqual(['FORBIDDEN']);
    // The same uuid under the caller's own prefix finds nothing: rows are looked up by tenant too.
    const relabelled = mangoOrder.id.replace('mango:', 'avocado:');
    const spoofed = await graphql(url, {
      token: avocado,
      query: ORDER_ENTITIES,
      variables: { r: [{ __typename: 'Order', id: relabelled }] },
    });
    expect(spoofed.body.data._entities).toEqual([null]);
    const garbage = await graphql(url, {
      token: avocado,
      query: ORDER_BY_ID,
      variables: { r: [{ __typename: 'Tenant', id: 'avocado' }], id: 'nope' },
    });
    expect(garbage.body.data._entities[0].order).toBeNull();
    for (const response of [byId, spoofed, garbage])
      for (const secret of secrets) expect(JSON.stringify(response.body)).not.toContain(secret);
  });

  it('resolves 50 orders with their lines and units with as many statements as 5', async ({ auth, url, metrics, product }) => {
    const token = await auth.token('avocado', ORDERS_WRITE);
    const a = await product.create('avocado', { priceCents: 2 });
    const b = await product.create('avocado', { priceCents: 3 });
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      const placed = await graphql(url, {
        token,
        query: PLACE,
        variables: {
          input: {
            lines: [
              { productId: a, quantity: 1 },
              { productId: b, quantity: i + 1 },
            ],
          },
        },
      });
      ids.push(placed.body.data.placeOrder.id);
    }
    const statementsFor = async (count: number) => {
      const before = metrics.queryCount();
      const response = await graphql(url, {
        token,
        query: ORDER_ENTITIES,
        variables: { r: ids.slice(0, count).map((id) => ({ __typename: 'Order', id })) },
      });
      expect(response.body.errors).toBeUndefined();
      expect(response.body.data._entities).toHaveLength(count);
      expect(response.body.data._entities.every((order: { lines: unknown[] }) => order.lines.length === 2)).toBe(true);
      return metrics.queryCount() - before;
    };
    const five = await statementsFor(5);
    expect(five).toBeGreaterThan(0);
    expect(await statementsFor(50)).toBe(five);

    const pageStatements = async (first: number) => {
      const before = metrics.queryCount();
      const response = await graphql(url, { token, query: ORDERS, variables: { r: [{ __typename: 'Tenant', id: 'avocado' }], first } });
      expect(response.body.data._entities[0].orders.nodes).toHaveLength(first);
      return metrics.queryCount() - before;
    };
    expect(await pageStatements(50)).toBe(await pageStatements(5));
  });

  it('masks an unreachable product subgraph as an internal error and places nothing', async ({ auth, url, product }) => {
    const token = await auth.token('avocado', ORDERS_WRITE);
    const productId = await product.create('avocado', { priceCents: 1 });
    const before = await allOrderNumbers(url, token, 'avocado');
    const closed = `http://127.0.0.1:${await freePort()}/graphql`;
    productUrl = closed;
    try {
      const response = await graphql(url, { token, query: PLACE, variables: { input: { lines: [{ productId, quantity: 1 }] } } });
      expect(codes(response)).toEqual(['INTERNAL_SERVER_ERROR']);
      expect(JSON.stringify(response.body)).not.toContain(closed);
    } finally {
      productUrl = product.url;
    }
    expect(await allOrderNumbers(url, token, 'avocado')).toEqual(before);
  });
});
