import type { Logger, TenantRecord } from '@tenantgraph/core';
import type { Redis } from 'ioredis';

export type Plan = TenantRecord['plan'];

/** A token bucket: refilled at `perSecond`, holding at most `burst` tokens (requests, or units of estimated cost). */
export type BucketLimit = { perSecond: number; burst: number };

export type PlanLimits = Record<Plan, BucketLimit>;

/** Requests per second by plan; the burst is twice that. */
export const DEFAULT_PLAN_LIMITS: PlanLimits = {
  FREE: { perSecond: 20, burst: 40 },
  PRO: { perSecond: 100, burst: 200 },
  ENTERPRISE: { perSecond: 500, burst: 1_000 },
};

export type RateDecision = { allowed: boolean /** Seconds until one request is allowed again. */; retryAfterSeconds: number };

export type RateLimiter = {
  /** Takes `amount` tokens (one request unless given) from `key`'s bucket, or none when it holds fewer; a negative amount gives tokens back (up to `burst`). */
  take(key: string, limit: BucketLimit, amount?: number): Promise<RateDecision>;
  close(): Promise<void>;
};

const decision = (allowed: boolean, waitMs: number): RateDecision => ({
  allowed,
  retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil(waitMs / 1000)),
});

/**
 * Buckets in this process's memory: right for one gateway process. The workers of one gateway
 * share the primary's (`workerRateLimiter`); with several replicas behind a load balancer each
 * enforces its own share, so set `REDIS_URL` to share the buckets.
 */
export function memoryRateLimiter({ maxKeys = 100_000 }: { maxKeys?: number } = {}): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    async take(key, { perSecond, burst }, amount = 1) {
      const now = performance.now();
      const bucket = buckets.get(key) ?? { tokens: burst, at: now };
      bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) * perSecond) / 1000);
      bucket.at = now;
      // Re-insert so the Map's order is least recently used first.
      buckets.delete(key);
      buckets.set(key, bucket);
      if (buckets.size > maxKeys) buckets.delete(buckets.keys().next().value as string);
      if (bucket.tokens >= amount) {
        bucket.tokens = Math.min(burst, bucket.tokens - amount);
        return decision(true, 0);
      }
      return decision(false, ((amount - bucket.tokens) * 1000) / perSecond);
    },
    async close() {},
  };
}

/**
 * One atomic step of a token bucket kept in a Redis hash, timed by the Redis server's clock so
 * every gateway replica agrees. Takes ARGV[3] tokens. Returns { allowed (0/1), milliseconds until there are enough }.
 */
const TAKE_SCRIPT = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local amount = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local allowed = 0
local wait = 0
if tokens >= amount then
  tokens = math.min(burst, tokens - amount)
  allowed = 1
else
  wait = math.ceil((amount - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return { allowed, wait }
`;

/**
 * Buckets shared by every gateway replica, in Redis (`REDIS_URL`). When Redis does not answer
 * within its command timeout, `fallback` decides (by default this process's own buckets) and a
 * warning is logged: an outage of Redis must neither take the API down nor lift the limit.
 */
export function redisRateLimiter(
  redis: Redis,
  {
    prefix = 'tenantgraph:ratelimit:',
    logger,
    fallback = memoryRateLimiter(),
  }: { prefix?: string; logger?: Logger; fallback?: RateLimiter } = {},
): RateLimiter {
  redis.defineCommand('tenantgraphTake', { numberOfKeys: 1, lua: TAKE_SCRIPT });
  // ioredis reports connection trouble as 'error' events; without a listener they crash the log.
  let warnedAt = Number.NEGATIVE_INFINITY;
  const warn = (message: string, error: unknown) => {
    if (Date.now() - warnedAt < 10_000) return;
    warnedAt = Date.now();
    logger?.warn(message, { error });
  };
  redis.on('error', (error) => warn('rate limiter: Redis unavailable', error));
  const take = (
    redis as unknown as { tenantgraphTake(key: string, rate: number, burst: number, amount: number): Promise<[number, number]> }
  ).tenantgraphTake.bind(redis);
  return {
    async take(key, limit, amount = 1) {
      try {
        const [allowed, waitMs] = await take(`${prefix}${key}`, limit.perSecond, limit.burst, amount);
        return decision(allowed === 1, waitMs);
      } catch (error) {
        warn('rate limiter: Redis unavailable; buckets of this process decide meanwhile', error);
        return fallback.take(key, limit, amount);
      }
    },
    async close() {
      redis.disconnect();
      await fallback.close();
    },
  };
}
