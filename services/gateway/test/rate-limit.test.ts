import { request } from 'node:http';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { memoryRateLimiter, redisRateLimiter } from '../src/rate-limit.ts';
import { startGatewayProcess } from './process.ts';

const LIMIT = { perSecond: 0.01, burst: 3 };

/** How many of `count` takes from one bucket are allowed. */
async function allowedOf(limiter: ReturnType<typeof memoryRateLimiter>, key: string, count: number) {
  let allowed = 0;
  for (let i = 0; i < count; i++) if ((await limiter.take(key, LIMIT)).allowed) allowed++;
  return allowed;
}

describe('a bucket of estimated cost', () => {
  const cost = { perSecond: 0.01, burst: 10_000 };
  for (const [store, make] of [
    ['in memory', () => memoryRateLimiter()],
    ['in Redis', () => redisRateLimiter(new Redis('redis://127.0.0.1:6379'), { prefix: `tenantgraph:test:${Date.now()}:` })],
  ] as const) {
    it(`takes an amount at once, ${store}, or none of it, says how long until it fits, and takes some back`, async () => {
      const limiter = make();
      try {
        expect((await limiter.take('avocado', cost, 6_000)).allowed).toBe(true);
        // 4 000 left: 6 000 more is refused and takes nothing, 4 000 still fits.
        const refused = await limiter.take('avocado', cost, 6_000);
        expect(refused.allowed).toBe(false);
        expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(200_000);
        expect((await limiter.take('avocado', cost, 4_000)).allowed).toBe(true);
        expect((await limiter.take('avocado', cost, 1)).allowed).toBe(false);
        // A negative amount gives tokens back, never past the burst.
        expect((await limiter.take('avocado', cost, -3_000)).allowed).toBe(true);
        expect((await limiter.take('avocado', cost, 3_000)).allowed).toBe(true);
        await limiter.take('avocado', cost, -1_000_000);
        expect((await limiter.take('avocado', cost, 10_001)).allowed).toBe(false);
        expect((await limiter.take('avocado', cost, 10_000)).allowed).toBe(true);
        expect((await limiter.take('mango', cost, 10_000)).allowed).toBe(true);
      } finally {
        await limiter.close();
      }
    });
  }
});

describe('the Redis rate limiter in an outage', () => {
  it('falls back to buckets of its own process when Redis cannot be reached, instead of letting everything through', async () => {
    // A closed port: every command fails at once.
    const redis = new Redis('redis://127.0.0.1:1', {
      commandTimeout: 250,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      lazyConnect: true,
    });
    const limiter = redisRateLimiter(redis);
    try {
      expect(await allowedOf(limiter, `outage-${Date.now()}`, 10)).toBe(3);
    } finally {
      await limiter.close();
    }
  });

  it('keeps limiting when Redis goes away in the middle', async () => {
    const redis = new Redis('redis://127.0.0.1:6379', { commandTimeout: 250, maxRetriesPerRequest: 0 });
    const limiter = redisRateLimiter(redis, { prefix: `tenantgraph:test:${Date.now()}:` });
    try {
      expect(await allowedOf(limiter, 'avocado', 5)).toBe(3);
      redis.disconnect();
      // The fallback bucket starts full: one more burst at most, then refused.
      expect(await allowedOf(limiter, 'avocado', 10)).toBeLessThanOrEqual(3);
      expect((await limiter.take('avocado', LIMIT)).allowed).toBe(false);
    } finally {
      await limiter.close();
    }
  });
});

/** A POST over a connection of its own, so the cluster hands each request to the next worker. */
function post(url: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ query: '{ __typename }' });
    const req = request(
      url,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('the gateway with several workers and no Redis', () => {
  it('gives a tenant one budget, not one per worker', async () => {
    // avocado is PRO: a burst of 5, refilled at one request every 5 s.
    const gateway = await startGatewayProcess({ GATEWAY_WORKERS: '2', RATE_LIMIT_PRO_RPS: '0.2', RATE_LIMIT_BURST_FACTOR: '25' });
    try {
      const token = await gateway.auth.token('avocado');
      const started = Date.now();
      const statuses: number[] = [];
      for (let i = 0; i < 24; i++) statuses.push(await post(gateway.url, token));
      const seconds = (Date.now() - started) / 1000;
      const allowed = statuses.filter((status) => status === 200).length;
      expect(statuses.filter((status) => status !== 200 && status !== 429)).toEqual([]);
      // One bucket: the burst plus what refilled meanwhile. Two buckets would allow twice the burst.
      expect(allowed).toBeGreaterThanOrEqual(5);
      expect(allowed).toBeLessThanOrEqual(5 + Math.floor(seconds * 0.2) + 1);
      expect(allowed).toBeLessThan(10);
    } finally {
      await gateway.stop();
    }
  }, 150_000);
});
