import { serviceUnavailable, type TenantRegistry, unknownTenant } from '@tenantgraph/core';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import { type ConnectOptions, createPool, databaseNameOf, dedicatedDatabaseName, kyselyOver, withDatabaseName } from './connect.ts';
import type { ClientPool } from './statements.ts';
import { readOnly } from './tenant-scope.ts';

export type RouterOptions = ConnectOptions & {
  /** The service's shared database: most tenants live here. */
  sharedUrl: string;
  registry: TenantRegistry;
  /** Connections per database pool. */
  poolSize?: number;
  /** Bound on all connections of this service, over every pool. */
  maxConnections?: number;
};

export type DatabaseRouter<DB> = {
  /**
   * The database holding this tenant's rows; UNKNOWN_TENANT when it is not registered. While
   * the tenant moves or is deleted, the instance is read-only (writes fail with a retryable
   * SERVICE_UNAVAILABLE).
   */
  forTenant(tenantId: string): Promise<Kysely<DB>>;
  /** Databases with an open pool, least recently used first (for metrics and tests). */
  openDatabases(): string[];
  /** Connections open right now over every pool, idle or in use (for metrics and tests). */
  connectionCount(): number;
  /** Per open database: connections checked out, and requests waiting for one (metrics). */
  poolStats(): { database: string; inUse: number; waiting: number }[];
  destroy(): Promise<void>;
};

/**
 * One database's pool as Kysely sees it. The `pg` pool under it opens on first use and may be
 * closed by the router while idle; a Kysely instance handed out earlier keeps working, because
 * its next query opens the pool again (through the router's bound).
 */
type Slot = {
  name: string;
  url: string;
  pool: pg.Pool | undefined;
  opening: Promise<void> | undefined;
  /** Checkouts in progress or held: a slot with any is never closed. */
  active: number;
  lastUsed: number;
  /** Connections held or being taken, by tenant (the shared database only), and who waits for one. */
  held: Map<string, number>;
  waiting: Map<string, (() => void)[]>;
};

/**
 * The only way a data subgraph reaches its rows: a tenant in the shared placement is served
 * from the shared database, a dedicated one from `<shared>__<tenant>` on the same server.
 *
 * One `pg` pool per database (keyed by the database's URL, so nothing is shared across
 * databases), opened on first use. At most `floor(maxConnections / poolSize)` pools are open at
 * once, so open connections never pass `maxConnections`. Opening one more first closes the least
 * recently used pool that has no connection in use; when every open pool is busy, the request
 * waits (up to `acquireTimeoutMs`) for one to become idle. A pool is never closed under a
 * running statement.
 *
 * In the shared database one tenant holds at most `ceil(poolSize / 2)` connections at once (at
 * least 1): its further requests wait, in order, for one of its own connections to come back.
 * So no tenant can take every connection of a shared pool: another tenant finds one free, or
 * waits behind no more than each other tenant's share.
 */
export function createDatabaseRouter<DB>(options: RouterOptions): DatabaseRouter<DB> {
  const { sharedUrl, registry, poolSize = 5, maxConnections = 40, ...connectOptions } = options;
  const acquireTimeoutMs = connectOptions.acquireTimeoutMs ?? 2_000;
  const size = Math.max(1, Math.min(poolSize, maxConnections));
  const maxOpenPools = Math.max(1, Math.floor(maxConnections / size));
  const perTenant = Math.max(1, Math.ceil(size / 2));
  const sharedName = databaseNameOf(sharedUrl);
  const slots = new Map<string, Slot>();
  const instances = new Map<string, Kysely<DB>>();
  /** Pools open or closing: counted until their connections are gone. */
  let openPools = 0;
  let waiters: (() => void)[] = [];
  let destroyed = false;

  const wakeWaiters = () => {
    const ready = waiters;
    waiters = [];
    for (const wake of ready) wake();
  };

  const waitForChange = (deadline: number) =>
    new Promise<void>((resolve, reject) => {
      const left = deadline - Date.now();
      if (left <= 0) return reject(busy());
      const timer = setTimeout(() => {
        waiters = waiters.filter((wake) => wake !== done);
        reject(busy());
      }, left);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      waiters.push(done);
    });

  const busy = () => serviceUnavailable(`All ${maxConnections} database connections of this service are in use; retry shortly.`);

  /** Makes room for one more pool and opens `slot`'s. */
  const open = async (slot: Slot) => {
    const deadline = Date.now() + acquireTimeoutMs;
    while (openPools >= maxOpenPools) {
      if (destroyed) throw new Error('the database router is closed');
      const idle = [...slots.values()]
        .filter((candidate) => candidate.pool && candidate.active === 0 && candidate !== slot)
        .sort((a, b) => a.lastUsed - b.lastUsed)[0];
      if (!idle) {
        await waitForChange(deadline);
        continue;
      }
      const closing = idle.pool!;
      idle.pool = undefined;
      // Counted until its (idle) connections are closed, so the bound holds at every moment.
      await closing.end().catch(() => {});
      openPools--;
      wakeWaiters();
    }
    openPools++;
    slot.pool = createPool(slot.url, { ...connectOptions, max: size });
  };

  /** Counts one more connection of `tenant` in the shared pool, waiting in order while it holds its share. */
  const claim = (slot: Slot, tenant: string) => {
    const held = slot.held.get(tenant) ?? 0;
    if (held < perTenant) {
      slot.held.set(tenant, held + 1);
      return Promise.resolve();
    }
    if (destroyed) return Promise.reject(new Error('the database router is closed'));
    return new Promise<void>((resolve, reject) => {
      const queue = slot.waiting.get(tenant) ?? [];
      slot.waiting.set(tenant, queue);
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        queue.splice(queue.indexOf(wake), 1);
        if (queue.length === 0) slot.waiting.delete(tenant);
        reject(serviceUnavailable(`This tenant already uses its ${perTenant} connections of the database; retry shortly.`));
      }, acquireTimeoutMs);
      queue.push(wake);
    });
  };

  /** Gives `tenant`'s connection to its next waiting request, or back to the pool. */
  const unclaim = (slot: Slot, tenant: string) => {
    const queue = slot.waiting.get(tenant);
    const next = queue?.shift();
    if (queue?.length === 0) slot.waiting.delete(tenant);
    if (next) return next();
    const left = (slot.held.get(tenant) ?? 1) - 1;
    if (left > 0) slot.held.set(tenant, left);
    else slot.held.delete(tenant);
  };

  /** `slot`'s pool as Kysely sees it; with a tenant, one that holds that tenant to its share. */
  const poolFor = (slot: Slot, tenant?: string): ClientPool => ({
    async connect() {
      // Claimed before any await: a slot with a checkout in progress is never chosen for closing.
      slot.active++;
      slot.lastUsed = Date.now();
      let claimed = false;
      try {
        if (tenant !== undefined) {
          await claim(slot, tenant);
          claimed = true;
        }
        while (!slot.pool) {
          if (destroyed) throw new Error('the database router is closed');
          slot.opening ??= open(slot).finally(() => {
            slot.opening = undefined;
          });
          await slot.opening;
        }
        const client = await slot.pool.connect();
        const release = client.release.bind(client);
        client.release = (error?: Error | boolean) => {
          release(error);
          slot.active--;
          slot.lastUsed = Date.now();
          if (tenant !== undefined) unclaim(slot, tenant);
          wakeWaiters();
        };
        return client;
      } catch (error) {
        slot.active--;
        if (claimed) unclaim(slot, tenant!);
        wakeWaiters();
        throw error;
      }
    },
    async end() {
      const closing = slot.pool;
      slot.pool = undefined;
      if (closing) {
        await closing.end().catch(() => {});
        openPools--;
        wakeWaiters();
      }
    },
  });

  const slotFor = (name: string) => {
    const url = name === sharedName ? sharedUrl : withDatabaseName(sharedUrl, name);
    let slot = slots.get(url);
    if (!slot) {
      slot = { name, url, pool: undefined, opening: undefined, active: 0, lastUsed: Date.now(), held: new Map(), waiting: new Map() };
      slots.set(url, slot);
    }
    return slot;
  };

  /** A dedicated database's instance, or the shared database's instance for one tenant. */
  const database = (name: string, tenant?: string) => {
    const key = tenant === undefined ? name : `${name}/${tenant}`;
    const known = instances.get(key);
    if (known) return known;
    const db = kyselyOver<DB>(poolFor(slotFor(name), tenant), connectOptions);
    instances.set(key, db);
    return db;
  };

  return {
    async forTenant(tenantId) {
      const tenant = await registry.get(tenantId);
      if (!tenant) throw unknownTenant();
      if (tenant.status === 'provisioning') throw serviceUnavailable('The tenant is being set up; retry shortly.');
      const db = tenant.placement === 'dedicated' ? database(dedicatedDatabaseName(sharedName, tenantId)) : database(sharedName, tenantId);
      // Moving or deleting: reads go on from where the rows are, writes wait for the end.
      return tenant.status === 'active' ? db : readOnly(db);
    },
    openDatabases: () =>
      [...slots.values()]
        .filter((slot) => slot.pool)
        .sort((a, b) => a.lastUsed - b.lastUsed)
        .map((slot) => slot.name),
    connectionCount: () => [...slots.values()].reduce((sum, slot) => sum + (slot.pool?.totalCount ?? 0), 0),
    // Waiting: for a connection of the pool, and (shared database) for one of the tenant's share.
    poolStats: () =>
      [...slots.values()].map((slot) => ({
        database: slot.name,
        inUse: slot.pool ? slot.pool.totalCount - slot.pool.idleCount : 0,
        waiting: (slot.pool?.waitingCount ?? 0) + [...slot.waiting.values()].reduce((sum, queue) => sum + queue.length, 0),
      })),
    async destroy() {
      destroyed = true;
      wakeWaiters();
      await Promise.all([...instances.values()].map((db) => db.destroy()));
      instances.clear();
      slots.clear();
    },
  };
}
