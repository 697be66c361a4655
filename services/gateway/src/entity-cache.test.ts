import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type CacheScope, createEntityCache } from './entity-cache.ts';

const viewer = { scopes: ['products:write'], subject: 'u1' };
const answer = (size: number) => 'x'.repeat(size);

describe('entity cache', () => {
  it("keeps another tenant's hot entries while one tenant fills the cache: the filler evicts its own beyond its share", async () => {
    // 100 KB in all, a quarter per tenant; each answer about 2 KB.
    const cache = createEntityCache({ maxBytes: 100_000, tenantShare: 0.25, ttlMs: 60_000 });
    const hot = (await cache.scope('hot', 'shared', viewer))!;
    const hotKeys = Array.from({ length: 5 }, (_, i) => cache.key(hot, 'product', `query Q${i}`, {}));
    for (const key of hotKeys) cache.set(hot, key, answer(1_000));
    const filler = (await cache.scope('filler', 'shared', viewer))!;
    for (let i = 0; i < 1_000; i++) cache.set(filler, cache.key(filler, 'product', 'query P', { i }), answer(1_000));
    expect(cache.bytes('filler')).toBeLessThanOrEqual(25_000);
    for (const key of hotKeys) expect(await cache.get(hot, key)).toBe(answer(1_000));
  });

  it('evicts the least recently used entries of the whole cache once every tenant stays within its share', async () => {
    const cache = createEntityCache({ maxBytes: 20_000, tenantShare: 0.5, ttlMs: 60_000 });
    const scopes: CacheScope[] = [];
    for (const tenant of ['a', 'b', 'c']) scopes.push((await cache.scope(tenant, 'shared', viewer))!);
    const [a, b, c] = scopes as [CacheScope, CacheScope, CacheScope];
    const keyA = cache.key(a, 'order', 'query O', {});
    cache.set(a, keyA, answer(4_000));
    cache.set(b, cache.key(b, 'order', 'query O', {}), answer(4_000));
    cache.set(c, cache.key(c, 'order', 'query O', {}), answer(4_000));
    expect(cache.bytes()).toBeLessThanOrEqual(20_000);
    expect(await cache.get(a, keyA)).toBeUndefined();
  });

  it('never answers across tenants, placements, scopes or generations', async () => {
    const cache = createEntityCache({ maxBytes: 1_000_000, tenantShare: 0.5, ttlMs: 60_000 });
    const a = (await cache.scope('a', 'shared', viewer))!;
    cache.set(a, cache.key(a, 'product', 'query Q', { r: 1 }), 'A');
    const b = (await cache.scope('b', 'shared', viewer))!;
    expect(await cache.get(b, cache.key(b, 'product', 'query Q', { r: 1 }))).toBeUndefined();
    const fewerScopes = (await cache.scope('a', 'shared', { scopes: [], subject: 'u1' }))!;
    expect(await cache.get(fewerScopes, cache.key(fewerScopes, 'product', 'query Q', { r: 1 }))).toBeUndefined();
    expect(await cache.get(a, cache.key(a, 'product', 'query Q', { r: 1 }))).toBe('A');

    await cache.invalidate('a');
    const after = (await cache.scope('a', 'shared', viewer))!;
    expect(after.generations).toEqual({ '*': 1 });
    expect(await cache.get(after, cache.key(after, 'product', 'query Q', { r: 1 }))).toBeUndefined();
    // A fill that raced the change lands under the old generation: nobody reads it any more.
    cache.set(a, cache.key(a, 'product', 'query Q', { r: 1 }), 'stale');
    expect(await cache.get(after, cache.key(after, 'product', 'query Q', { r: 1 }))).toBeUndefined();
    expect(cache.stats('a')).toEqual({ hits: 1, misses: 3 });
  });

  it("keeps a subgraph's answers when another subgraph changed, and none once the whole tenant did", async () => {
    const cache = createEntityCache({ maxBytes: 1_000_000, tenantShare: 0.5, ttlMs: 60_000 });
    const before = (await cache.scope('a', 'shared', viewer))!;
    cache.set(before, cache.key(before, 'order', 'query O', {}), 'orders');
    cache.set(before, cache.key(before, 'product', 'query P', {}), 'products');
    await cache.invalidate('a', ['product']);
    const after = (await cache.scope('a', 'shared', viewer))!;
    expect(await cache.get(after, cache.key(after, 'order', 'query O', {}))).toBe('orders');
    expect(await cache.get(after, cache.key(after, 'product', 'query P', {}))).toBeUndefined();
    // Another tenant's generations are its own.
    expect((await cache.scope('b', 'shared', viewer))!.generations).toEqual({});
    await cache.invalidate('a');
    const last = (await cache.scope('a', 'shared', viewer))!;
    expect(await cache.get(last, cache.key(last, 'order', 'query O', {}))).toBeUndefined();
  });

  it("drops a tenant's entries when its placement changes", async () => {
    const cache = createEntityCache({ maxBytes: 1_000_000, tenantShare: 0.5, ttlMs: 60_000 });
    const shared = (await cache.scope('a', 'shared', viewer))!;
    cache.set(shared, cache.key(shared, 'product', 'query Q', {}), 'from shared');
    expect(cache.bytes('a')).toBeGreaterThan(0);
    await cache.scope('a', 'dedicated', viewer);
    expect(cache.bytes('a')).toBe(0);
  });

  it('forgets an entry after its time to live', async () => {
    const cache = createEntityCache({ maxBytes: 1_000_000, tenantShare: 0.5, ttlMs: 1 });
    const a = (await cache.scope('a', 'shared', viewer))!;
    const key = cache.key(a, 'product', 'query Q', {});
    cache.set(a, key, 'A');
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await cache.get(a, key)).toBeUndefined();
  });

  it('keys an answer that names the viewer by the viewer, and others not', async () => {
    const cache = createEntityCache({ maxBytes: 1_000_000, tenantShare: 0.5, ttlMs: 60_000 });
    const one = (await cache.scope('a', 'shared', viewer))!;
    const two = (await cache.scope('a', 'shared', { ...viewer, subject: 'u2' }))!;
    expect(cache.key(one, 'tenant', '{ viewer { id } }', {})).not.toBe(cache.key(two, 'tenant', '{ viewer { id } }', {}));
    expect(cache.key(one, 'tenant', '{ tenant { id } }', {})).toBe(cache.key(two, 'tenant', '{ tenant { id } }', {}));
  });

  it("reads a whole answer only with every one of the tenant's generations, the same viewer and the same request", async () => {
    const cache = createEntityCache({ maxBytes: 1_000_000, tenantShare: 0.5, ttlMs: 60_000 });
    const dashboard = 'query Dashboard { tenant { id } }';
    const a = (await cache.scope('a', 'shared', viewer))!;
    const kept = { body: '{"data":{"tenant":{"id":"a"}}}\n', headers: [], operationName: 'Dashboard' } as const;
    cache.keepAnswer(a, cache.answerKey(a, dashboard), kept);
    // Counted in the tenant's share as its text.
    expect(cache.bytes('a')).toBeGreaterThan(kept.body.length * 2);
    expect(cache.answer(a, cache.answerKey(a, dashboard))).toBe(kept);
    expect(cache.answer(a, cache.answerKey(a, 'query Other { tenant { id } }'))).toBeUndefined();
    const otherViewer = (await cache.scope('a', 'shared', { ...viewer, subject: 'u2' }))!;
    expect(cache.answer(otherViewer, cache.answerKey(otherViewer, dashboard))).toBeUndefined();
    const otherScopes = (await cache.scope('a', 'shared', { ...viewer, scopes: [] }))!;
    expect(cache.answer(otherScopes, cache.answerKey(otherScopes, dashboard))).toBeUndefined();
    const otherTenant = (await cache.scope('b', 'shared', viewer))!;
    expect(cache.answer(otherTenant, cache.answerKey(otherTenant, dashboard))).toBeUndefined();
    // A change in any one subgraph: unlike a fetch's entry, the whole answer is never read again.
    await cache.invalidate('a', ['project']);
    const after = (await cache.scope('a', 'shared', viewer))!;
    expect(cache.answer(after, cache.answerKey(after, dashboard))).toBeUndefined();
    // One hit counted; a whole answer not found counts no miss (its fetches' lookups do).
    expect(cache.stats('a')).toEqual({ hits: 1, misses: 0 });
  });

  it("drops, after a change its subgraph said reaches some types, those types' and the root fields' answers, and keeps the rest", async () => {
    const cache = createEntityCache({ maxBytes: 1_000_000, tenantShare: 0.5, ttlMs: 60_000 });
    const entities = (type: string) => ({ representations: [{ __typename: type, id: '1' }] });
    const keys = async () => {
      const a = (await cache.scope('a', 'shared', viewer))!;
      return {
        products: cache.key(a, 'product', 'query E', entities('Product')),
        tenant: cache.key(a, 'product', 'query E', entities('Tenant')),
        root: cache.key(a, 'product', 'query R', {}),
        orderProducts: cache.key(a, 'order', 'query E', entities('Product')),
      };
    };
    const before = await keys();
    await cache.invalidate('a', ['product'], ['Tenant']);
    const after = await keys();
    expect(after.products).toBe(before.products);
    expect(after.orderProducts).toBe(before.orderProducts);
    expect(after.tenant).not.toBe(before.tenant);
    expect(after.root).not.toBe(before.root);
    // Without the types: every answer of the subgraph.
    await cache.invalidate('a', ['product']);
    const last = await keys();
    expect(last.products).not.toBe(after.products);
    expect(last.orderProducts).toBe(after.orderProducts);
  });

  it('neither fails a change nor caches while Redis, its shared tier, cannot be reached', async () => {
    const redis = new Redis('redis://127.0.0.1:1', { maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true });
    const cache = createEntityCache({ maxBytes: 1_000_000, tenantShare: 0.5, ttlMs: 60_000, redis });
    await expect(cache.invalidate('a')).resolves.toBeUndefined();
    expect(await cache.scope('a', 'shared', viewer)).toBeUndefined();
    redis.disconnect();
  });
});
