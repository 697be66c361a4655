import { type TenantRegistry, serviceUnavailable, unknownTenant } from '@tenantgraph/core';
import type { Kysely, PostgresPool, PostgresPoolClient } from 'kysely';
import type pg from 'pg';
import { type ConnectOptions, createPool, databaseNameOf, dedicatedDatabaseName, kyselyOver, withDatabaseName } from './connect.ts';
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
 */
export function createDatabaseRouter<DB>(options: RouterOptions): DatabaseRouter<DB> {
  const { sharedUrl, registry, poolSize = 5, maxConnections = 40, ...connectOptions } = options;
  const acquireTimeoutMs = connectOptions.acquireTimeoutMs ?? 2_000;
  const size = Math.max(1, Math.min(poolSize, maxConnections));
  const maxOpenPools = Math.max(1, Math.floor(maxConnections / size));
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

  const busy = () =>
    serviceUnavailable(`All ${maxConnections} database connections of this service are in use; retry shortly.`);

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

  const poolFor = (slot: Slot): PostgresPool => ({
    async connect() {
      // Claimed before any await: a slot with a checkout in progress is never chosen for closing.
      slot.active++;
      slot.lastUsed = Date.now();
      try {
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
          wakeWaiters();
        };
        return client as unknown as PostgresPoolClient;
      } catch (error) {
        slot.active--;
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

  const database = (name: string) => {
    const known = instances.get(name);
    if (known) return known;
    const url = name === sharedName ? sharedUrl : withDatabaseName(sharedUrl, name);
    const slot: Slot = { name, url, pool: undefined, opening: undefined, active: 0, lastUsed: Date.now() };
    slots.set(url, slot);
    const db = kyselyOver<DB>(poolFor(slot), connectOptions);
    instances.set(name, db);
    return db;
  };

  return {
    async forTenant(tenantId) {
      const tenant = await registry.get(tenantId);
      if (!tenant) throw unknownTenant();
      if (tenant.status === 'provisioning') throw serviceUnavailable('The tenant is being set up; retry shortly.');
      const db = database(tenant.placement === 'dedicated' ? dedicatedDatabaseName(sharedName, tenantId) : sharedName);
      // Moving or deleting: reads go on from where the rows are, writes wait for the end.
      return tenant.status === 'active' ? db : readOnly(db);
    },
    openDatabases: () =>
      [...slots.values()]
        .filter((slot) => slot.pool)
        .sort((a, b) => a.lastUsed - b.lastUsed)
        .map((slot) => slot.name),
    connectionCount: () => [...slots.values()].reduce((sum, slot) => sum + (slot.pool?.totalCount ?? 0), 0),
    async destroy() {
      destroyed = true;
      wakeWaiters();
      await Promise.all([...instances.values()].map((db) => db.destroy()));
      instances.clear();
      slots.clear();
    },
  };
}
