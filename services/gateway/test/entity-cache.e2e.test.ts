import { randomBytes, randomUUID } from 'node:crypto';
import { connect, withTenant } from '@tenantgraph/database';
import { createPostgresTransport, eventLogMigrationsFolder } from '@tenantgraph/events';
import { createServiceDatabases, graphql, recordingLogger } from '@tenantgraph/testkit';
import { Redis } from 'ioredis';
import { describe, expect } from 'vitest';
import { createEntityCache, type EntityCache, invalidateOnEvents } from '../src/server.ts';
import { type Stack, stackTest } from './stack.ts';

const it = stackTest;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const generous = { perSecond: 100_000, burst: 100_000 };
const planLimits = { FREE: generous, PRO: generous, ENTERPRISE: generous };
const PRODUCTS = '{ tenant { id products(first: 50) { totalCount nodes { name } } } }';

const newCache = (redisPrefix?: string) =>
  createEntityCache({
    maxBytes: 16 * 2 ** 20,
    tenantShare: 0.5,
    ttlMs: 60_000,
    ...(redisPrefix ? { redis: new Redis(REDIS_URL), redisPrefix } : {}),
  });

async function cachedGateway(stack: Stack, cache: EntityCache) {
  return stack.startGateway({ entityCache: cache, planLimits });
}

async function ok(url: string, token: string, query: string, variables?: Record<string, unknown>) {
  const response = await graphql(url, { token, query, ...(variables ? { variables } : {}) });
  expect(response.body.errors).toBeUndefined();
  return response.body.data;
}

/** A product's input as a GraphQL literal. */
const input = (name: string) => `{ sku: "${name}-${randomBytes(4).toString('hex')}", name: "${name}", priceCents: 100, stock: 5 }`;

const createProduct = (url: string, token: string, name: string) =>
  ok(url, token, 'mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }', {
    i: { sku: `${name}-${randomBytes(4).toString('hex')}`, name, priceCents: 100, stock: 5 },
  });

describe('the entity cache through the gateway', () => {
  it("never shows one tenant the other's data: identical queries, interleaved, 1,000 times", async ({ stack }) => {
    const cache = newCache();
    const gateway = await cachedGateway(stack, cache);
    const tokens = {
      avocado: await stack.auth.token('avocado', ['products:write']),
      papaya: await stack.auth.token('papaya', ['products:write']),
    };
    await createProduct(gateway.url, tokens.avocado, 'only-avocado');
    await createProduct(gateway.url, tokens.papaya, 'only-papaya');
    for (let i = 0; i < 1_000; i++) {
      for (const tenant of ['avocado', 'papaya'] as const) {
        const { tenant: seen } = await ok(gateway.url, tokens[tenant], PRODUCTS);
        expect(seen.id).toBe(tenant);
        const names: string[] = seen.products.nodes.map((node: { name: string }) => node.name);
        expect(names).toContain(`only-${tenant}`);
        expect(names).not.toContain(`only-${tenant === 'avocado' ? 'papaya' : 'avocado'}`);
      }
    }
    // The answers did come from the cache.
    expect(cache.stats('avocado').hits).toBeGreaterThan(900);
    expect(cache.stats('papaya').hits).toBeGreaterThan(900);
    await gateway.stop();
  }, 120_000);

  it('shows a tenant its own write at once: a mutation, then the query, 200 times, never stale', async ({ stack }) => {
    const cache = newCache();
    const gateway = await cachedGateway(stack, cache);
    const token = await stack.auth.token('avocado', ['products:write']);
    let count = (await ok(gateway.url, token, PRODUCTS)).tenant.products.totalCount as number;
    for (let i = 0; i < 200; i++) {
      // Read twice first, so the answer is cached before the write.
      await ok(gateway.url, token, PRODUCTS);
      await createProduct(gateway.url, token, `write-${i}`);
      count += 1;
      expect((await ok(gateway.url, token, PRODUCTS)).tenant.products.totalCount).toBe(count);
    }
    expect(cache.stats('avocado').hits).toBeGreaterThanOrEqual(200);
    await gateway.stop();
  }, 120_000);

  it("invalidates only what a write changed: a new product refetches the products, not the tenant's orders", async ({ stack }) => {
    const cache = newCache();
    const gateway = await cachedGateway(stack, cache);
    const token = await stack.auth.token('avocado', ['products:write']);
    // Three fetches: the tenant (tenant subgraph), then its products and its orders.
    const BOTH = '{ tenant { id products(first: 50) { totalCount } orders(first: 5) { totalCount } } }';
    const before = (await ok(gateway.url, token, BOTH)).tenant;
    await ok(gateway.url, token, BOTH);
    const stats = cache.stats('avocado');
    await createProduct(gateway.url, token, 'only-products-change');
    const after = (await ok(gateway.url, token, BOTH)).tenant;
    expect(after.products.totalCount).toBe(before.products.totalCount + 1);
    expect(after.orders.totalCount).toBe(before.orders.totalCount);
    // The products were fetched again; the tenant and its orders came from the cache.
    expect(cache.stats('avocado')).toEqual({ hits: stats.hits + 2, misses: stats.misses + 1 });
    await gateway.stop();
  }, 60_000);

  it('keeps the products an order shows after a new product: the subgraph said only the tenant changed', async ({ stack }) => {
    const cache = newCache();
    const gateway = await cachedGateway(stack, cache);
    const token = await stack.auth.token('avocado', ['products:write', 'orders:write']);
    const { createProduct: shown } = await createProduct(gateway.url, token, 'shown-in-an-order');
    await ok(gateway.url, token, 'mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { id } }', {
      i: { lines: [{ productId: shown.id, quantity: 1 }] },
    });
    // Four fetches: the tenant, its products and its orders, then the orders' products (product's _entities).
    const LINES = '{ tenant { id products(first: 50) { totalCount } orders(first: 5) { nodes { lines { product { name } } } } } }';
    await ok(gateway.url, token, LINES);
    const stats = cache.stats('avocado');
    await createProduct(gateway.url, token, 'new-one');
    const after = (await ok(gateway.url, token, LINES)).tenant;
    const names = after.orders.nodes.flatMap((order: { lines: { product: { name: string } }[] }) =>
      order.lines.map((line) => line.product.name),
    );
    expect(names).toContain('shown-in-an-order');
    // The product list was fetched again; the tenant, the orders and the products they show came from the cache.
    expect(cache.stats('avocado')).toEqual({ hits: stats.hits + 3, misses: stats.misses + 1 });

    // Two mutation fields in one request: what one says it changed does not speak for the other,
    // so all of the product subgraph's answers go (the list and the orders' products).
    await ok(
      gateway.url,
      token,
      'mutation { a: createProduct(input: $a) { id } b: createProduct(input: $b) { id } }'
        .replace('$a', input('two-a'))
        .replace('$b', input('two-b')),
    );
    const again = cache.stats('avocado');
    await ok(gateway.url, token, LINES);
    expect(cache.stats('avocado')).toEqual({ hits: again.hits + 2, misses: again.misses + 2 });
    await gateway.stop();
  }, 60_000);

  it("answers a repeated query whole, once per viewer: one hit, no fetch, and never another viewer's answer", async ({ stack }) => {
    const cache = newCache();
    const gateway = await cachedGateway(stack, cache);
    const WHO = '{ viewer { id } tenant { id products(first: 50) { totalCount } orders(first: 5) { totalCount } } }';
    const [ana, ben] = [
      await stack.auth.token('avocado', ['products:write'], { subject: 'ana' }),
      await stack.auth.token('avocado', ['products:write'], { subject: 'ben' }),
    ];
    const first = await ok(gateway.url, ana, WHO);
    const stats = cache.stats('avocado');
    // Three fetches the first time (tenant, products, orders); the same request again is one hit.
    expect(await ok(gateway.url, ana, WHO)).toEqual(first);
    expect(cache.stats('avocado')).toEqual({ hits: stats.hits + 1, misses: stats.misses });
    // Another viewer of the same tenant, with the same scopes, gets an answer of its own.
    expect((await ok(gateway.url, ben, WHO)).viewer.id).not.toBe(first.viewer.id);
    expect((await ok(gateway.url, ana, WHO)).viewer.id).toBe(first.viewer.id);
    // Different variables are another answer.
    const page = 'query($n: Int!) { tenant { products(first: $n) { nodes { id } } } }';
    expect((await ok(gateway.url, ana, page, { n: 1 })).tenant.products.nodes).toHaveLength(1);
    expect((await ok(gateway.url, ana, page, { n: 2 })).tenant.products.nodes).toHaveLength(2);
    await gateway.stop();
  }, 60_000);

  it('answers a kept request with the bytes first sent, named in its access line; a GET or a simple POST still meets CSRF prevention', async ({
    stack,
  }) => {
    const cache = newCache();
    const logger = recordingLogger();
    const gateway = await stack.startGateway({ entityCache: cache, planLimits, logger });
    const token = await stack.auth.token('avocado', ['products:write']);
    await createProduct(gateway.url, token, 'kept');
    const query = 'query Products { tenant { products(first: 5) { totalCount nodes { name } } } }';
    const send = (contentType: string) =>
      fetch(gateway.url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': contentType },
        body: JSON.stringify({ query, operationName: 'Products' }),
      });
    const first = await send('application/json');
    const text = await first.text();
    expect(JSON.parse(text).data.tenant.products.totalCount).toBeGreaterThan(0);
    const { hits } = cache.stats('avocado');
    const again = await send('application/json');
    expect(await again.text()).toBe(text);
    expect(again.headers.get('content-type')).toBe(first.headers.get('content-type'));
    expect(again.headers.get('cache-control')).toBe('private, no-store');
    expect(cache.stats('avocado').hits).toBe(hits + 1);
    const access = logger.lines.filter((line) => line.message === 'request').at(-1);
    expect(access?.fields).toMatchObject({ tenant: 'avocado', operation: 'Products', type: 'query', status: 200 });

    // Neither is answered from what was kept: Apollo Server refuses both as possible CSRF.
    const simple = await send('text/plain');
    const get = await fetch(`${gateway.url}?query=${encodeURIComponent(query)}`, { headers: { authorization: `Bearer ${token}` } });
    expect([simple.status, get.status]).toEqual([400, 400]);
    expect(await get.text()).toContain('CSRF');
    expect(cache.stats('avocado').hits).toBe(hits + 1);
    await gateway.stop();
  }, 60_000);

  it("never keeps Tenant.usage, which analytics counts after the change's event: the new count shows within a second", async ({
    stack,
  }) => {
    const cache = newCache();
    const gateway = await cachedGateway(stack, cache);
    const token = await stack.auth.token('mango', ['products:write']);
    const USAGE = '{ tenant { usage { productsCreated } } }';
    const counted = async () => (await ok(gateway.url, token, USAGE)).tenant.usage.productsCreated as number;
    const before = await counted();
    await createProduct(gateway.url, token, 'counted');
    // Read at once, before analytics has counted the event (a cached answer would keep the old count), then until it has.
    await counted();
    await expect.poll(counted, { timeout: 2_000, interval: 50 }).toBe(before + 1);
    await gateway.stop();
  }, 60_000);

  it('shows a change made through another gateway replica on the next read (shared tier in Redis)', async ({ stack }) => {
    const prefix = `test:entity:${randomBytes(4).toString('hex')}:`;
    const [cacheA, cacheB] = [newCache(prefix), newCache(prefix)];
    const [a, b] = [await cachedGateway(stack, cacheA), await cachedGateway(stack, cacheB)];
    const token = await stack.auth.token('papaya', ['products:write']);
    for (let i = 0; i < 20; i++) {
      const before = (await ok(a.url, token, PRODUCTS)).tenant.products.totalCount as number;
      expect((await ok(a.url, token, PRODUCTS)).tenant.products.totalCount).toBe(before);
      await createProduct(b.url, token, `replica-${i}`);
      expect((await ok(a.url, token, PRODUCTS)).tenant.products.totalCount).toBe(before + 1);
    }
    expect(cacheA.stats('papaya').hits).toBeGreaterThanOrEqual(20);
    await a.stop();
    await b.stop();
  }, 120_000);

  it('shows a change made straight through a subgraph once its domain event arrives', async ({ stack }) => {
    // The PostgreSQL transport (the one used without NATS_URL): a gateway listening, a relay publishing.
    const events = await createServiceDatabases({ service: 'events', migrationsFolder: eventLogMigrationsFolder });
    const [listening, relay] = [
      await createPostgresTransport({ url: events.sharedUrl }),
      await createPostgresTransport({ url: events.sharedUrl }),
    ];
    const cache = newCache();
    const subscription = await invalidateOnEvents(cache, listening);
    const gateway = await cachedGateway(stack, cache);
    const token = await stack.auth.token('avocado', ['products:write']);
    const count = async () => (await ok(gateway.url, token, PRODUCTS)).tenant.products.totalCount as number;
    for (let i = 0; i < 5; i++) {
      const before = await count();
      expect(await count()).toBe(before);
      // Straight to the product subgraph: the gateway never sees this write ...
      const created = await createProduct(stack.subgraphUrls.product, token, `direct-${i}`);
      expect(await count()).toBe(before); // ... so its cached answer stands, until the event:
      await relay.publish([
        {
          id: randomUUID(),
          tenantId: 'avocado',
          type: 'product.created',
          entityId: created.createProduct.id,
          payload: {},
          occurredAt: new Date().toISOString(),
          source: 'product_db',
        },
      ]);
      const deadline = Date.now() + 5_000;
      while ((await count()) === before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await count()).toBe(before + 1);
    }
    await subscription.close();
    await gateway.stop();
    await Promise.all([listening.close(), relay.close()]);
    await events.drop();
  }, 120_000);

  it('after a move to a dedicated database, reads come from the new database only', async ({ stack }) => {
    const cache = newCache();
    const gateway = await cachedGateway(stack, cache);
    const token = await stack.auth.token('papaya', ['products:write']);
    await createProduct(gateway.url, token, 'in-shared');
    const names = async () => ((await ok(gateway.url, token, PRODUCTS)).tenant.products.nodes as { name: string }[]).map((n) => n.name);
    expect(await names()).toContain('in-shared');
    expect(await names()).toContain('in-shared'); // cached now

    // The move as `pnpm tenant move` makes it: status moving, rows copied (here: a row only the
    // new database has), placement switched, then active once every service has seen it.
    await stack.databases.product.addDedicated('papaya');
    for (const service of ['order', 'project'] as const) await stack.databases[service].addDedicated('papaya');
    const dedicated = connect<any>(stack.databases.product.dedicatedUrl('papaya'), { max: 1 });
    await withTenant(dedicated, 'papaya', (trx) =>
      trx
        .insertInto('product')
        .values({ tenant_id: 'papaya', sku: 'NEW-DB', name: 'in-dedicated', price_cents: 1, currency: 'EUR', stock: 1 })
        .execute(),
    );
    await dedicated.destroy();
    const registry = connect<any>(stack.databases.tenant.sharedUrl, { max: 1 });
    const setRegistry = (values: Record<string, string>) =>
      withTenant(registry, 'papaya', (trx) => trx.updateTable('tenant').set(values).where('id', '=', 'papaya').execute());
    await setRegistry({ status: 'moving', placement: 'dedicated' });
    const deadline = Date.now() + 30_000;
    while (!(await names()).includes('in-dedicated') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    await setRegistry({ status: 'active' });
    await registry.destroy();
    await new Promise((resolve) => setTimeout(resolve, 6_000)); // every service's registry cache has seen it
    const hitsBefore = cache.stats('papaya').hits;
    for (let i = 0; i < 20; i++) expect(await names()).toEqual(['in-dedicated']);
    expect(cache.stats('papaya').hits).toBeGreaterThan(hitsBefore);
    await gateway.stop();
  }, 120_000);
});
