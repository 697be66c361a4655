import { createHash } from 'node:crypto';
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { Logger, Viewer } from '@tenantgraph/core';
import type { EventTransport } from '@tenantgraph/events';
import type { Redis } from 'ioredis';

type EntityCacheOptions = {
  /** Bound on the memory the entries take (their JSON, counted as 2 bytes a character). */
  maxBytes: number;
  /** The most one tenant's entries may take, as a share of `maxBytes` (0 < share ≤ 1). */
  tenantShare: number;
  /** An entry is dropped this long after it was filled, whatever happened since: the last resort. */
  ttlMs: number;
  /** The shared tier: entries and each tenant's generations, seen by every gateway replica. */
  redis?: Redis | undefined;
  /** Prefix of every Redis key (tests and several deployments on one Redis). */
  redisPrefix?: string;
  /** Called on each lookup, for the per-tenant hit/miss metric. */
  onLookup?: (tenantId: string, hit: boolean) => void;
  logger?: Logger;
};

/**
 * What every answer of one request may be cached under: its tenant, where the tenant's rows live
 * (placement), the tenant's generations when the request started (see `Generations`), and what
 * the caller may see (scopes, and the subject where the answer names the viewer).
 */
export type CacheScope = { tenantId: string; placement: string; generations: Generations; scopes: string; subject: string };

/** A mutation a request sent: to which subgraph, and the entity types that subgraph said it changed (none said: all). */
export type SentMutation = { subgraph: string; changed?: readonly string[] };

/**
 * A tenant's generations: one for the whole tenant (`ALL`), bumped by a change whose subgraph is
 * not known; one per subgraph, bumped by a change there whose reach the subgraph did not say; and
 * one per subgraph and type (`product/Tenant`, `product/Query` for the root fields), bumped by a
 * change the subgraph said reaches that type's answers (`noteChanged`). A fetch's answer is keyed
 * by the first two and by its own types' (an `_entities` fetch's representations' types, or
 * `Query`): a new product leaves the tenant's cached orders standing, and the products already shown.
 */
type Generations = Readonly<Record<string, number>>;
const ALL = '*';
/** The type a root field's answer is about. */
const ROOT = 'Query';
/** The generation of a subgraph's answers about one type. */
const typeGeneration = (subgraph: string, type: string) => `${subgraph}/${type}`;

/** A whole answer as it was sent (see whole-answers.ts), and the name of its operation (metrics, the access line). */
type Answer = Readonly<{ body: string; headers: readonly [string, string][]; operationName: string | undefined }>;

/** A fetch's answer as the JSON text it came in (the shared tier's form), or a whole answer. */
type Entry = { key: string; tenantId: string; value: string | Answer; bytes: number; expires: number };

/**
 * The gateway's entity cache: subgraph answers (an `_entities` fetch, its representations being
 * the entities' types and keys, or a root fetch) by tenant. Bounded in memory (LRU over
 * `maxBytes`), with each tenant held to `tenantShare` of it, so one tenant filling the cache
 * evicts its own entries, never another's beyond that; Redis, when given, is a shared tier.
 *
 * Invalidation is by generation: a change of the tenant's data in a subgraph (its own mutation
 * before the answer returns, a domain event from the subgraph's service) bumps that subgraph's,
 * a change of unknown reach the whole tenant's, and every entry of an older generation is never
 * read again. A fill that raced a change is written under the old generation, so it cannot be
 * read after the change. A placement move or a deleted tenant drops the tenant's entries; the
 * TTL bounds everything else.
 */
export function createEntityCache(options: EntityCacheOptions) {
  const { maxBytes, ttlMs, redis, onLookup, logger } = options;
  const prefix = options.redisPrefix ?? 'tg:entity:';
  const tenantMax = Math.max(1, Math.floor(maxBytes * Math.min(1, Math.max(0, options.tenantShare))));
  /** Every entry, least recently used first. */
  const entries = new Map<string, Entry>();
  /** Each tenant's entries, least recently used first, and the bytes they take. */
  const byTenant = new Map<string, { entries: Map<string, Entry>; bytes: number }>();
  const generations = new Map<string, Record<string, number>>();
  const placements = new Map<string, string>();
  const stats = new Map<string, { hits: number; misses: number }>();
  let bytes = 0;

  const remove = (entry: Entry) => {
    entries.delete(entry.key);
    const tenant = byTenant.get(entry.tenantId);
    if (!tenant) return;
    tenant.entries.delete(entry.key);
    tenant.bytes -= entry.bytes;
    if (tenant.entries.size === 0) byTenant.delete(entry.tenantId);
    bytes -= entry.bytes;
  };

  const touch = (entry: Entry) => {
    entries.delete(entry.key);
    entries.set(entry.key, entry);
    const own = byTenant.get(entry.tenantId)?.entries;
    own?.delete(entry.key);
    own?.set(entry.key, entry);
  };

  const count = (tenantId: string, hit: boolean) => {
    const stat = stats.get(tenantId) ?? { hits: 0, misses: 0 };
    stats.set(tenantId, stat);
    if (hit) stat.hits++;
    else stat.misses++;
    onLookup?.(tenantId, hit);
  };

  /** Keeps `value` under `key`, counted as `size` bytes (a string's length twice: JavaScript's UTF-16). */
  const store = (
    tenantId: string,
    key: string,
    value: string | Answer,
    expires: number,
    size = (key.length + (value as string).length) * 2,
  ) => {
    if (size > tenantMax) return;
    const known = entries.get(key);
    if (known) remove(known);
    let tenant = byTenant.get(tenantId);
    // The tenant makes room in its own share first ...
    while (tenant && tenant.bytes + size > tenantMax) {
      const oldest = tenant.entries.values().next().value as Entry;
      remove(oldest);
      tenant = byTenant.get(tenantId);
    }
    // ... then the least recently used entries of the whole cache go, whoever's they are.
    while (bytes + size > maxBytes) remove(entries.values().next().value as Entry);
    if (!tenant) {
      tenant = { entries: new Map(), bytes: 0 };
      byTenant.set(tenantId, tenant);
    }
    const entry: Entry = { key, tenantId, value, bytes: size, expires };
    entries.set(key, entry);
    tenant.entries.set(key, entry);
    tenant.bytes += size;
    bytes += size;
  };

  /** The tenant's generations in the shared tier; null when it cannot be read, undefined without one. */
  const redisGenerations = async (tenantId: string): Promise<Generations | null | undefined> => {
    if (!redis) return undefined;
    try {
      const fields = await redis.hgetall(`${prefix}gens:${tenantId}`);
      return Object.fromEntries(Object.entries(fields).map(([subgraph, value]) => [subgraph, Number(value)]));
    } catch (error) {
      logger?.warn('entity cache: Redis unreachable; this request is not cached', { error });
      return null;
    }
  };

  return {
    /**
     * The scope of one request of `tenantId`, or undefined when its answers must not be cached
     * (the tenant is moving or being deleted, or the shared tier cannot say its generation).
     * A placement other than the last one seen drops the tenant's entries first.
     */
    async scope(
      tenantId: string,
      placement: string,
      viewer: { scopes: readonly string[]; subject: string },
    ): Promise<CacheScope | undefined> {
      const seen = placements.get(tenantId);
      if (seen !== placement) {
        if (seen !== undefined) this.dropTenant(tenantId);
        placements.set(tenantId, placement);
      }
      const shared = await redisGenerations(tenantId);
      if (shared === null) return undefined;
      // A copy: the request keeps the generations it started with, whatever changes while it runs.
      const current = shared ?? { ...generations.get(tenantId) };
      return { tenantId, placement, generations: current, scopes: [...viewer.scopes].sort().join(' '), subject: viewer.subject };
    },

    /** The key of one subgraph fetch: the scope, the subgraph, and the fetch itself (its selection and its variables: types, keys, arguments). */
    key(scope: CacheScope, subgraph: string, query: string, variables: unknown): string {
      // Only an answer that names the viewer depends on who asks within the tenant's scopes.
      const who = /\bviewer\b/.test(query) ? scope.subject : '';
      const fetch = createHash('sha256')
        .update(query)
        .update('\u0000')
        .update(JSON.stringify(variables ?? null))
        .digest('base64url');
      const { generations } = scope;
      let generation = `${generations[ALL] ?? 0}.${generations[subgraph] ?? 0}`;
      for (const type of typesOf(variables)) generation += `.${generations[typeGeneration(subgraph, type)] ?? 0}`;
      return [scope.tenantId, scope.placement, generation, subgraph, scope.scopes, who, fetch].join('\u0000');
    },

    /**
     * The key of a whole answer: the scope with every one of the tenant's generations (a change
     * of its data in any subgraph makes the answer unreadable), the subject, and `request`: all
     * else the answer depends on (see `wholeAnswers`).
     */
    answerKey(scope: CacheScope, request: string): string {
      const generations = Object.entries(scope.generations)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([subgraph, generation]) => `${subgraph}=${generation}`)
        .join(' ');
      return [scope.tenantId, scope.placement, generations, 'answer', scope.scopes, scope.subject, request].join('\u0000');
    },

    /** A whole answer kept in this replica's memory; a hit counts as the tenant's hit, a miss as nothing (the fetches' lookups follow). */
    answer(scope: CacheScope, key: string): Answer | undefined {
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (entry.expires <= Date.now()) {
        remove(entry);
        return undefined;
      }
      touch(entry);
      count(scope.tenantId, true);
      return entry.value as Answer;
    },

    /** Keeps a whole answer in this replica's memory, in the tenant's share like any entry. */
    keepAnswer(scope: CacheScope, key: string, answer: Answer): void {
      store(scope.tenantId, key, answer, Date.now() + ttlMs, (key.length + answer.body.length) * 2);
    },

    async get(scope: CacheScope, key: string): Promise<string | undefined> {
      const entry = entries.get(key);
      if (entry && entry.expires > Date.now()) {
        touch(entry);
        count(scope.tenantId, true);
        return entry.value as string;
      }
      if (entry) remove(entry);
      if (redis) {
        const value = await redis.get(`${prefix}e:${key}`).catch(() => null);
        if (value !== null) {
          store(scope.tenantId, key, value, Date.now() + ttlMs);
          count(scope.tenantId, true);
          return value;
        }
      }
      count(scope.tenantId, false);
      return undefined;
    },

    set(scope: CacheScope, key: string, value: string): void {
      store(scope.tenantId, key, value, Date.now() + ttlMs);
      redis?.set(`${prefix}e:${key}`, value, 'PX', ttlMs).catch(() => {});
    },

    /**
     * A change of the tenant's data in `subgraphs` (all of them when not given): every entry of
     * those subgraphs cached before it (with `types`, every entry about those types and the root
     * fields) is never read again, on this replica at once and, through Redis, on every replica.
     * Resolves once that holds.
     */
    async invalidate(tenantId: string, subgraphs: readonly string[] = [ALL], types?: readonly string[]): Promise<void> {
      const bumped = types ? subgraphs.flatMap((subgraph) => [ROOT, ...types].map((type) => typeGeneration(subgraph, type))) : subgraphs;
      const own = generations.get(tenantId) ?? {};
      for (const name of bumped) own[name] = (own[name] ?? 0) + 1;
      generations.set(tenantId, own);
      // The whole tenant's entries are freed at once; one subgraph's are left to the LRU.
      if (subgraphs.includes(ALL)) this.dropTenant(tenantId, false);
      if (!redis) return;
      try {
        const bump = redis.multi();
        for (const name of bumped) bump.hincrby(`${prefix}gens:${tenantId}`, name, 1);
        await bump.exec();
      } catch (error) {
        // The change itself succeeded; Redis being down must not fail it. Requests are not cached
        // while Redis cannot answer (see `scope`), and the TTL bounds what it kept.
        logger?.warn('entity cache: Redis unreachable; could not invalidate the shared tier', { tenantId, error });
      }
    },

    /** Drops the tenant's entries from memory (a placement move, a deleted tenant). */
    dropTenant(tenantId: string, forgetPlacement = true): void {
      const tenant = byTenant.get(tenantId);
      if (tenant) for (const entry of [...tenant.entries.values()]) remove(entry);
      if (forgetPlacement) placements.delete(tenantId);
    },

    /** Lookups by tenant since start. */
    stats: (tenantId: string) => ({ ...(stats.get(tenantId) ?? { hits: 0, misses: 0 }) }),
    /** Bytes held, in all and by tenant (tests, metrics). */
    bytes: (tenantId?: string) => (tenantId === undefined ? bytes : (byTenant.get(tenantId)?.bytes ?? 0)),
    has: (key: string) => entries.has(key),
    /** Closes the connection to the shared tier. */
    async close() {
      await redis?.quit().catch(() => {});
    },
  };
}

export type EntityCache = ReturnType<typeof createEntityCache>;

/**
 * The types a fetch's answer is about: an `_entities` fetch's representations' types (sorted,
 * once each), or `Query` for a root fetch.
 */
function typesOf(variables: unknown): string[] {
  const representations = (variables as { representations?: unknown } | null | undefined)?.representations;
  if (!Array.isArray(representations)) return [ROOT];
  const types = new Set<string>();
  for (const representation of representations) types.add(String((representation as { __typename?: unknown })?.__typename));
  return [...types].sort();
}

/**
 * Read-your-writes: a tenant's mutation invalidates the tenant's cached answers of the subgraphs
 * it was sent to before its own answer is sent (all of them when none is known; of a subgraph
 * that said which entity types it changed, those types' and the root fields'), so the query the
 * client sends next never sees what was there before.
 */
export function invalidateOnMutation(
  cache: EntityCache,
): ApolloServerPlugin<BaseContext & { viewer?: Viewer; mutations?: SentMutation[] }> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ operation, contextValue }) {
          if (operation?.operation !== 'mutation' || !contextValue.viewer) return;
          const { tenantId } = contextValue.viewer;
          const mutations = contextValue.mutations ?? [];
          if (mutations.length === 0) return cache.invalidate(tenantId);
          for (const { subgraph, changed } of mutations) await cache.invalidate(tenantId, [subgraph], changed);
        },
      };
    },
  };
}

/**
 * The subgraph whose data each domain event's entity lives in (`product.created` → product).
 * An event of another entity invalidates the whole tenant.
 */
const EVENT_SUBGRAPHS: Record<string, string> = { product: 'product', order: 'order', project: 'project', task: 'project' };

/**
 * Every replica invalidates a tenant's answers of the event's subgraph on each of its domain
 * events, whoever made the change (another replica, a subgraph called directly, a background
 * job): live delivery, all tenants.
 */
export function invalidateOnEvents(cache: EntityCache, events: EventTransport, logger?: Logger) {
  return events.subscribe('all', (event) => {
    const subgraph = EVENT_SUBGRAPHS[event.type.split('.')[0] ?? ''];
    cache
      .invalidate(event.tenantId, subgraph ? [subgraph] : undefined)
      .catch((error: unknown) => logger?.warn('entity cache: invalidation failed', { error }));
  });
}
