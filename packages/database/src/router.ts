import { type TenantRegistry, unknownTenant } from '@tenantgraph/core';
import type { Kysely } from 'kysely';
import { type ConnectOptions, connect, databaseNameOf, dedicatedDatabaseName, withDatabaseName } from './connect.ts';

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
  /** The database holding this tenant's rows; UNKNOWN_TENANT when it is not registered. */
  forTenant(tenantId: string): Promise<Kysely<DB>>;
  /** Open pools, by database name (for metrics and tests). */
  openDatabases(): string[];
  destroy(): Promise<void>;
};

/**
 * The only way a data subgraph reaches its rows: a tenant in the shared placement is served
 * from the shared database, a dedicated one from `<shared>__<tenant>` on the same server.
 * Pools open on first use; when opening one would pass `maxConnections`, the least recently
 * used dedicated pool is closed first.
 */
export function createDatabaseRouter<DB>(options: RouterOptions): DatabaseRouter<DB> {
  const { sharedUrl, registry, poolSize = 5, maxConnections = 40, ...connectOptions } = options;
  const sharedName = databaseNameOf(sharedUrl);
  const pools = new Map<string, Kysely<DB>>();
  const shared = connect<DB>(sharedUrl, { ...connectOptions, max: poolSize });
  const maxDedicatedPools = Math.max(1, Math.floor(maxConnections / poolSize) - 1);

  const dedicated = (tenantId: string) => {
    const name = dedicatedDatabaseName(sharedName, tenantId);
    const open = pools.get(name);
    if (open) {
      // Map order is the LRU order: re-insert on use.
      pools.delete(name);
      pools.set(name, open);
      return open;
    }
    if (pools.size >= maxDedicatedPools) {
      const [oldest, db] = pools.entries().next().value as [string, Kysely<DB>];
      pools.delete(oldest);
      // Statements in flight finish first: destroy waits for the pool to drain.
      void db.destroy();
    }
    const db = connect<DB>(withDatabaseName(sharedUrl, name), { ...connectOptions, max: poolSize });
    pools.set(name, db);
    return db;
  };

  return {
    async forTenant(tenantId) {
      const tenant = await registry.get(tenantId);
      if (!tenant) throw unknownTenant();
      return tenant.placement === 'dedicated' ? dedicated(tenantId) : shared;
    },
    openDatabases: () => [sharedName, ...pools.keys()],
    async destroy() {
      await Promise.all([shared.destroy(), ...[...pools.values()].map((db) => db.destroy())]);
      pools.clear();
    },
  };
}
