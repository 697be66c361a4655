import { errorCode } from '@tenantgraph/core';
import { describe, expect, it } from 'vitest';
import { createFairScheduler, tenantAdmission } from './fair-scheduler.ts';

describe('createFairScheduler', () => {
  it('refuses a tenant past its limit with TOO_MANY_REQUESTS and a retry delay, others still get in', async () => {
    const scheduler = createFairScheduler({ maxInFlight: 10, maxWaitMs: 60_000 });
    await scheduler.acquire('a', 2);
    await scheduler.acquire('a', 2);
    const refused = await scheduler.acquire('a', 2).catch((error: unknown) => error);
    expect(errorCode(refused)).toBe('TOO_MANY_REQUESTS');
    expect((refused as { extensions: { retryAfterSeconds: number } }).extensions.retryAfterSeconds).toBe(1);
    await expect(scheduler.acquire('b', 2)).resolves.toBeTypeOf('function');
    expect(scheduler.stats().byKey).toEqual({ a: { running: 2, waiting: 0 }, b: { running: 1, waiting: 0 } });
  });

  it('counts waiting requests against the tenant limit too', async () => {
    const scheduler = createFairScheduler({ maxInFlight: 1, maxWaitMs: 60_000 });
    const first = await scheduler.acquire('a', 2);
    const waiting = scheduler.acquire('a', 2);
    await expect(scheduler.acquire('a', 2)).rejects.toMatchObject({ extensions: { code: 'TOO_MANY_REQUESTS' } });
    first();
    await expect(waiting).resolves.toBeTypeOf('function');
  });

  it('serves waiting tenants round-robin, not first come first served', async () => {
    const scheduler = createFairScheduler({ maxInFlight: 1, maxWaitMs: 60_000 });
    const holder = await scheduler.acquire('x', 1);
    const order: string[] = [];
    // Tenant a queues four requests before tenant b queues its two; each runs alone (maxInFlight 1).
    const done = ['a', 'a', 'a', 'a', 'b', 'b'].map((key) =>
      scheduler.acquire(key, 10).then((release) => {
        order.push(key);
        release();
      }),
    );
    expect(scheduler.stats().waiting).toBe(6);
    holder();
    await Promise.all(done);
    expect(order).toEqual(['a', 'b', 'a', 'b', 'a', 'a']);
  });

  it('gives the slot back when the work fails, once however often release is called', async () => {
    const scheduler = createFairScheduler({ maxInFlight: 1, maxWaitMs: 60_000 });
    const work = async () => {
      const release = await scheduler.acquire('a', 1);
      try {
        throw new Error('resolver blew up');
      } finally {
        release();
        release();
      }
    };
    await expect(work()).rejects.toThrow('resolver blew up');
    expect(scheduler.stats()).toEqual({ running: 0, waiting: 0, byKey: {} });
    const again = await scheduler.acquire('a', 1);
    expect(scheduler.stats().running).toBe(1);
    again();
  });

  it('takes a request whose client went away out of the queue', async () => {
    const scheduler = createFairScheduler({ maxInFlight: 1, maxWaitMs: 60_000 });
    const holder = await scheduler.acquire('a', 5);
    const gone = new AbortController();
    const abandoned = scheduler.acquire('b', 1, gone.signal);
    expect(scheduler.stats().waiting).toBe(1);
    gone.abort();
    await expect(abandoned).rejects.toThrow('abandoned');
    expect(scheduler.stats()).toEqual({ running: 1, waiting: 0, byKey: { a: { running: 1, waiting: 0 } } });
    // Tenant b's limit of 1 is free again.
    const next = scheduler.acquire('b', 1);
    holder();
    await expect(next).resolves.toBeTypeOf('function');
  });

  it('refuses a request that waited longer than maxWaitMs', async () => {
    const scheduler = createFairScheduler({ maxInFlight: 1, maxWaitMs: 50 });
    const holder = await scheduler.acquire('a', 5);
    const waited = await scheduler.acquire('b', 5).catch((error: unknown) => error);
    expect(errorCode(waited)).toBe('TOO_MANY_REQUESTS');
    expect((waited as { extensions: { retryAfterSeconds: number } }).extensions.retryAfterSeconds).toBe(1);
    expect(scheduler.stats().waiting).toBe(0);
    holder();
  });
});

describe('createFairScheduler with weights (cost-weighted admission)', () => {
  it('lets an expensive request take more of its tenant share, so the tenant holds fewer at once', async () => {
    const scheduler = createFairScheduler({ maxInFlight: 100, maxWaitMs: 60_000 });
    const expensive = await scheduler.acquire('a', 4, undefined, 3);
    // Three of a's four slots are taken: a second expensive request is over a's share, a cheap one is not.
    await expect(scheduler.acquire('a', 4, undefined, 2)).rejects.toMatchObject({ extensions: { code: 'TOO_MANY_REQUESTS' } });
    const cheap = await scheduler.acquire('a', 4, undefined, 1);
    await expect(scheduler.acquire('a', 4)).rejects.toMatchObject({ extensions: { code: 'TOO_MANY_REQUESTS' } });
    // Another tenant's share is its own.
    await expect(scheduler.acquire('b', 4, undefined, 4)).resolves.toBeTypeOf('function');
    expensive();
    await expect(scheduler.acquire('a', 4, undefined, 2.5)).resolves.toBeTypeOf('function');
    cheap();
  });

  it('runs a request heavier than the whole share alone rather than never', async () => {
    const scheduler = createFairScheduler({ maxInFlight: 8, maxWaitMs: 60_000 });
    const huge = await scheduler.acquire('a', 4, undefined, 50);
    await expect(scheduler.acquire('a', 4)).rejects.toMatchObject({ extensions: { code: 'TOO_MANY_REQUESTS' } });
    huge();
    await expect(scheduler.acquire('a', 4)).resolves.toBeTypeOf('function');
  });

  it('gives the next turn to the waiting tenant holding the fewest slots, whoever waited first', async () => {
    const scheduler = createFairScheduler({ maxInFlight: 3, maxWaitMs: 60_000 });
    const running = [await scheduler.acquire('a', 10), await scheduler.acquire('a', 10), await scheduler.acquire('a', 10)];
    const order: string[] = [];
    const waiting = ['a', 'a', 'b'].map((key) => scheduler.acquire(key, 10).then(() => order.push(key)));
    expect(scheduler.stats().waiting).toBe(3);
    // a still holds two slots when one frees: b, holding none, goes first although a waited longer.
    running[0]!();
    await waiting[2];
    expect(order).toEqual(['b']);
    running[1]!();
    running[2]!();
    await Promise.all(waiting);
    expect(order).toEqual(['b', 'a', 'a']);
  });

  it("keeps an expensive request's turn until there is room for it, not starved by cheap ones", async () => {
    const scheduler = createFairScheduler({ maxInFlight: 4, maxWaitMs: 60_000 });
    const holder = await scheduler.acquire('x', 10, undefined, 3);
    const order: string[] = [];
    const heavy = scheduler.acquire('a', 10, undefined, 3).then((release) => {
      order.push('a');
      return release;
    });
    const light = scheduler.acquire('b', 10, undefined, 1).then((release) => {
      order.push('b');
      return release;
    });
    // b would fit beside x, but a's turn came first and a holds no more than b: b waits behind it.
    await Promise.resolve();
    expect(order).toEqual([]);
    holder();
    await Promise.all([heavy, light]);
    expect(order).toEqual(['a', 'b']);
    expect(scheduler.stats().running).toBe(2);
  });
});

describe('tenantAdmission', () => {
  it('holds each tenant to the limit of its plan', async () => {
    const plans = { free: 'FREE', pro: 'PRO' } as const;
    const admission = tenantAdmission(
      { maxInFlight: 100, maxWaitMs: 1_000, perTenant: { FREE: 1, PRO: 3, ENTERPRISE: 5 } },
      {
        get: async (id) => {
          const plan = plans[id as keyof typeof plans];
          return plan ? { id, slug: id, name: id, plan, placement: 'shared', status: 'active' } : undefined;
        },
      },
    );
    const admitted = async (tenant: string, attempts: number) => {
      const results = await Promise.allSettled(Array.from({ length: attempts }, () => admission.admit(tenant)));
      return results.filter((result) => result.status === 'fulfilled').length;
    };
    expect(await admitted('free', 4)).toBe(1);
    expect(await admitted('pro', 4)).toBe(3);
    expect(await admitted('unknown', 4)).toBe(1);
  });

  it('refuses up front a tenant holding all its slots, before any cost is known, and only that tenant', async () => {
    const registry = {
      get: async (id: string) => ({
        id,
        slug: id,
        name: id,
        plan: 'PRO' as const,
        placement: 'shared' as const,
        status: 'active' as const,
      }),
    };
    const admission = tenantAdmission({ maxInFlight: 100, maxWaitMs: 1_000, perTenant: { FREE: 1, PRO: 4, ENTERPRISE: 5 } }, registry);
    const expensive = await admission.admit('a', undefined, 3);
    await expect(admission.refuseIfFull('a')).resolves.toBeUndefined();
    const cheap = await admission.admit('a');
    const refused = await admission.refuseIfFull('a').catch((error: unknown) => error);
    expect(errorCode(refused)).toBe('TOO_MANY_REQUESTS');
    expect((refused as { extensions: { retryAfterSeconds: number } }).extensions.retryAfterSeconds).toBe(1);
    await expect(admission.refuseIfFull('b')).resolves.toBeUndefined();
    cheap();
    await expect(admission.refuseIfFull('a')).resolves.toBeUndefined();
    expensive();
  });
});
