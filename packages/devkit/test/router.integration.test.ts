import { randomBytes } from 'node:crypto';
import { errorCode, type TenantRecord } from '@tenantgraph/core';
import { createDatabaseRouter, type DatabaseRouter, dedicatedDatabaseName, withTenant } from '@tenantgraph/database';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dropDatabase, ensureDatabase, urlFor } from '../src/provision.ts';

// The database router's test lives here, above packages/database, because it provisions real
// databases with this package's tools (packages/database cannot depend on its own dev kit).

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the run's PostgreSQL, from testkit's global setup. */
    pgAdminUrl: string;
  }
}

const adminUrl = inject('pgAdminUrl');
const shared = `t_router_${randomBytes(4).toString('hex')}`;
const role = { name: shared, password: randomBytes(12).toString('hex') };
const TENANTS = Array.from({ length: 50 }, (_, index) => `tenant-${index}`);
const placements = [...TENANTS.map((id) => [id, 'dedicated'] as const), ['sharedco', 'shared'] as const, ['sharedtwo', 'shared'] as const];
const tenants = new Map<string, TenantRecord>(
  placements.map(([id, placement]) => [id, { id, slug: id, name: id, plan: 'PRO', placement, status: 'active' }]),
);
const registry = { get: async (id: string) => tenants.get(id) };
const databases = [shared, ...TENANTS.map((tenant) => dedicatedDatabaseName(shared, tenant))];

async function asAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** One tenant-owned table per database, with one row naming the database's tenant. */
beforeAll(async () => {
  for (const [index, database] of databases.entries()) {
    await ensureDatabase(adminUrl, database, role);
    const client = new pg.Client({ connectionString: urlFor(adminUrl, database, role) });
    await client.connect();
    const tenant = index === 0 ? 'sharedco' : TENANTS[index - 1];
    await client.query('create table item (tenant_id text not null, name text not null)');
    await client.query('insert into item values ($1, $2)', [tenant, database]);
    await client.query(`alter table item enable row level security; alter table item force row level security;
      create policy tenant_isolation on item using (tenant_id = current_setting('app.tenant_id', true)) with check (tenant_id = current_setting('app.tenant_id', true))`);
    await client.end();
  }
}, 120_000);

afterAll(async () => {
  for (const database of databases) await dropDatabase(adminUrl, database);
  await asAdmin((client) => client.query(`drop role if exists "${role.name}"`));
});

const readItem = (router: DatabaseRouter<any>, tenant: string) =>
  router
    .forTenant(tenant)
    .then((db) =>
      withTenant(db, tenant, async (trx) => (await sql<{ name: string }>`select name, pg_sleep(0.005) from item`.execute(trx)).rows),
    );

const serverConnections = () =>
  asAdmin(async (client) =>
    Number((await client.query('select count(*) from pg_stat_activity where usename = $1', [role.name])).rows[0].count),
  );

describe('database router', () => {
  it('keeps open connections within maxConnections while serving 50 dedicated tenants at once', async () => {
    const router = createDatabaseRouter<any>({
      sharedUrl: urlFor(adminUrl, shared, role),
      registry,
      poolSize: 2,
      maxConnections: 10,
      acquireTimeoutMs: 20_000,
    });
    let highest = 0;
    let highestOnServer = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        highest = Math.max(highest, router.connectionCount());
        highestOnServer = Math.max(highestOnServer, await serverConnections());
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    const requests = Array.from({ length: 300 }, (_, index) => {
      const tenant = index % 7 === 0 ? 'sharedco' : TENANTS[(index * 13) % TENANTS.length]!;
      return readItem(router, tenant).then((rows) => ({ tenant, rows }));
    });
    const results = await Promise.all(requests);
    sampling = false;
    await sampler;
    for (const { tenant, rows } of results) {
      expect(rows).toEqual([{ name: tenant === 'sharedco' ? shared : dedicatedDatabaseName(shared, tenant), pg_sleep: '' }]);
    }
    expect(highest).toBeGreaterThan(2);
    expect(highest).toBeLessThanOrEqual(10);
    expect(highestOnServer).toBeLessThanOrEqual(10);
    expect(router.openDatabases().length).toBeLessThanOrEqual(5);
    await router.destroy();
    expect(router.connectionCount()).toBe(0);
  });

  it('serves a request holding an instance whose pool was closed meanwhile, by opening it again', async () => {
    const router = createDatabaseRouter<any>({ sharedUrl: urlFor(adminUrl, shared, role), registry, poolSize: 1, maxConnections: 1 });
    const first = await router.forTenant('tenant-1');
    expect(await withTenant(first, 'tenant-1', async (trx) => (await sql`select name from item`.execute(trx)).rows)).toHaveLength(1);
    await readItem(router, 'tenant-2');
    expect(router.openDatabases()).toEqual([dedicatedDatabaseName(shared, 'tenant-2')]);
    expect(await withTenant(first, 'tenant-1', async (trx) => (await sql`select name from item`.execute(trx)).rows)).toHaveLength(1);
    expect(router.openDatabases()).toEqual([dedicatedDatabaseName(shared, 'tenant-1')]);
    await router.destroy();
  });

  it('fails only the tenant whose dedicated database is down, with SERVICE_UNAVAILABLE, and serves it again once the database is back', async () => {
    const router = createDatabaseRouter<any>({ sharedUrl: urlFor(adminUrl, shared, role), registry, poolSize: 2, maxConnections: 10 });
    const down = dedicatedDatabaseName(shared, 'tenant-3');
    await readItem(router, 'tenant-3');
    await asAdmin(async (client) => {
      await client.query(`alter database "${down}" allow_connections false`);
      await client.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1', [down]);
    });
    try {
      const failure = await readItem(router, 'tenant-3').catch((error: unknown) => error);
      expect(errorCode(failure)).toBe('SERVICE_UNAVAILABLE');
      expect((failure as Error).message).toBe("The tenant's database is unavailable right now; retry shortly.");
      expect(await readItem(router, 'tenant-4')).toHaveLength(1);
      expect(await readItem(router, 'sharedco')).toHaveLength(1);
    } finally {
      await asAdmin((client) => client.query(`alter database "${down}" allow_connections true`));
    }
    expect(await readItem(router, 'tenant-3')).toEqual([{ name: down, pg_sleep: '' }]);
    await router.destroy();
  });

  it('refuses writes of a moving tenant with a retryable error while its reads go on', async () => {
    const router = createDatabaseRouter<any>({ sharedUrl: urlFor(adminUrl, shared, role), registry, poolSize: 2, maxConnections: 10 });
    tenants.set('tenant-5', { ...tenants.get('tenant-5')!, status: 'moving' });
    try {
      const db = await router.forTenant('tenant-5');
      expect(await readItem(router, 'tenant-5')).toHaveLength(1);
      const failure = await withTenant(db, 'tenant-5', (trx) =>
        trx.insertInto('item').values({ tenant_id: 'tenant-5', name: 'x' }).execute(),
      ).catch((error: unknown) => error);
      expect(errorCode(failure)).toBe('SERVICE_UNAVAILABLE');
      expect(await readItem(router, 'tenant-6')).toHaveLength(1);
    } finally {
      tenants.set('tenant-5', { ...tenants.get('tenant-5')!, status: 'active' });
    }
    const db = await router.forTenant('tenant-5');
    await withTenant(db, 'tenant-5', (trx) => trx.insertInto('item').values({ tenant_id: 'tenant-5', name: 'x' }).execute());
    expect(await readItem(router, 'tenant-5')).toHaveLength(2);
    await router.destroy();
  });

  it('lets one tenant hold at most half the connections of the shared pool, so another tenant still gets one', async () => {
    const sharedUrl = urlFor(adminUrl, shared, role);
    const router = createDatabaseRouter<any>({ sharedUrl, registry, poolSize: 4, maxConnections: 10, acquireTimeoutMs: 30_000 });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let entered = 0;
    // sharedco starts six transactions that each hold their connection until the gate opens.
    const holders = Array.from({ length: 6 }, () =>
      router.forTenant('sharedco').then((db) =>
        withTenant(db, 'sharedco', async (trx) => {
          entered++;
          await gate;
          return (await sql<{ name: string }>`select name from item`.execute(trx)).rows;
        }),
      ),
    );
    try {
      const deadline = Date.now() + 20_000;
      while (entered < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(entered).toBe(2);
      // The pool has four connections; sharedco holds two and waits for them, so sharedtwo is served at once.
      expect(await readItem(router, 'sharedtwo')).toEqual([]);
      expect(entered).toBe(2);
    } finally {
      open();
    }
    for (const rows of await Promise.all(holders)) expect(rows).toEqual([{ name: shared }]);
    expect(entered).toBe(6);
    await router.destroy();
  });

  it('answers UNKNOWN_TENANT for a tenant that is not registered', async () => {
    const router = createDatabaseRouter<any>({ sharedUrl: urlFor(adminUrl, shared, role), registry });
    expect(errorCode(await router.forTenant('nobody').catch((error: unknown) => error))).toBe('UNKNOWN_TENANT');
    await router.destroy();
  });
});
