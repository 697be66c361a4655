import { randomBytes } from 'node:crypto';
import { cachedRegistry, createLogger, errorCode, type TenantRecord } from '@tenantgraph/core';
import { createDatabaseRouter } from '@tenantgraph/database';
import { dropDatabase, ensureDatabase } from '@tenantgraph/devkit';
import { createProductServer } from '@tenantgraph/product';
import { createMetrics } from '@tenantgraph/server-kit';
import { createTestAuth, graphql, type TestAuth } from '@tenantgraph/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Platform, SERVICES, serviceDatabaseUrl, serviceRole, sharedDatabase, tenantDatabase } from '../src/platform.ts';
import { createTenant, deleteTenant, listTenants, MigrateError, migrateAll, moveTenant, provisionServices } from '../src/tenants.ts';

// Names unique to this file: parallel files and the server's other databases never collide.

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the run's PostgreSQL, from testkit's global setup. */
    pgAdminUrl: string;
  }
}

const prefix = `t${randomBytes(3).toString('hex')}_`;
const platform: Platform = {
  adminUrl: inject('pgAdminUrl'),
  prefix,
  secrets: {
    registryToken: 'unused',
    passwords: Object.fromEntries(SERVICES.map((service) => [service.name, randomBytes(12).toString('hex')])),
  },
};
const lines: string[] = [];
const log = (line: string) => lines.push(line);
const FAST = { cacheTtlMs: 300, maxStaleMs: 300, marginMs: 200 };

async function admin<T>(database: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const url = new URL(platform.adminUrl);
  url.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const databaseExists = (name: string) =>
  admin('postgres', async (client) => ((await client.query('select 1 from pg_database where datname = $1', [name])).rowCount ?? 0) > 0);

const registry = (id: string) =>
  admin(sharedDatabase('tenant', prefix), async (client) => (await client.query('select * from tenant where id = $1', [id])).rows);

const appliedMigrations = (database: string) =>
  admin(database, async (client) => {
    const exists = await client.query(`select 1 from pg_tables where tablename = 'kysely_migration'`);
    return exists.rowCount ? Number((await client.query('select count(*) from kysely_migration')).rows[0].count) : 0;
  });

/** Rows of a tenant per table of one database, as the superuser. */
const countsIn = (database: string, tenant: string, tables: string[]) =>
  admin(database, async (client) => {
    const counts: Record<string, number> = {};
    for (const table of tables) {
      counts[table] = Number((await client.query(`select count(*) from ${table} where tenant_id = $1`, [tenant])).rows[0].count);
    }
    return counts;
  });

/** The data subgraphs, and how many migrations each has. */
const MIGRATIONS = { product: 2, order: 2, project: 2, analytics: 1 } as const;
const DATA = Object.keys(MIGRATIONS) as (keyof typeof MIGRATIONS)[];

const TABLES = {
  product: ['product'],
  order: ['sales_order', 'sales_order_line', 'order_number_counter'],
  project: ['organization', 'member', 'project', 'task'],
} as const;

/** Every row of a tenant over the three data services' databases of one placement. */
async function everyCount(tenant: string, placement: 'shared' | 'dedicated') {
  const all: Record<string, number> = {};
  for (const [service, tables] of Object.entries(TABLES)) {
    const database = tenantDatabase(platform, service, tenant, placement);
    if (!(await databaseExists(database))) continue;
    Object.assign(all, await countsIn(database, tenant, [...tables]));
  }
  return all;
}

/** Order and project rows, straight into a tenant's databases (the product rows come through the API). */
async function seedOrdersAndProjects(tenant: string, placement: 'shared' | 'dedicated') {
  await admin(tenantDatabase(platform, 'order', tenant, placement), async (client) => {
    for (const number of [1, 2, 3]) {
      const { rows } = await client.query(
        `insert into sales_order (tenant_id, number, currency, total_cents) values ($1, $2, 'USD', 100) returning id`,
        [tenant, number],
      );
      await client.query(
        `insert into sales_order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price_cents) values ($1, $2, 1, gen_random_uuid(), 1, 100), ($1, $2, 2, gen_random_uuid(), 2, 50)`,
        [tenant, rows[0].id],
      );
    }
    await client.query('insert into order_number_counter (tenant_id, last_number) values ($1, 3)', [tenant]);
  });
  await admin(tenantDatabase(platform, 'project', tenant, placement), async (client) => {
    const org = (
      await client.query(`insert into organization (tenant_id, name, subscription_tier) values ($1, 'Org', 'pro') returning id`, [tenant])
    ).rows[0].id;
    await client.query(`insert into member (tenant_id, organization_id, name, email) values ($1, $2, 'Ada', 'ada@x.example')`, [
      tenant,
      org,
    ]);
    for (const name of ['One', 'Two']) {
      const project = (
        await client.query('insert into project (tenant_id, organization_id, name) values ($1, $2, $3) returning id', [tenant, org, name])
      ).rows[0].id;
      await client.query(`insert into task (tenant_id, project_id, title) values ($1, $2, 'Do it')`, [tenant, project]);
    }
  });
}

beforeAll(async () => {
  await provisionServices(platform, log);
});

afterAll(async () => {
  await admin('postgres', async (client) => {
    const { rows } = await client.query<{ datname: string }>('select datname from pg_database where starts_with(datname, $1)', [prefix]);
    for (const row of rows) await dropDatabase(platform.adminUrl, row.datname);
    for (const service of SERVICES) await client.query(`drop role if exists "${serviceRole(platform, service.name).name}"`);
  });
});

describe('tenant lifecycle', () => {
  it('creates a shared tenant and a dedicated one, each dedicated database owned by its service and migrated', async () => {
    await createTenant(platform, { id: 'peach', name: 'Peach Inc', plan: 'FREE', dedicated: false }, log);
    await createTenant(platform, { id: 'kiwi', name: 'Kiwi Inc', plan: 'ENTERPRISE', dedicated: true }, log);
    expect(await registry('peach')).toMatchObject([{ placement: 'shared', status: 'active', plan: 'FREE', name: 'Peach Inc' }]);
    expect(await registry('kiwi')).toMatchObject([{ placement: 'dedicated', status: 'active' }]);
    for (const service of DATA) {
      const database = tenantDatabase(platform, service, 'kiwi', 'dedicated');
      expect(await appliedMigrations(database)).toBe(MIGRATIONS[service]);
      const owner = await admin(
        'postgres',
        async (client) =>
          (await client.query('select pg_get_userbyid(datdba) as owner from pg_database where datname = $1', [database])).rows[0].owner,
      );
      // Owned by the NOLOGIN owner role that migrates it; the service's login role only has rows.
      expect(owner).toBe(serviceRole(platform, service).name.replace(/_svc$/, '_owner'));
      expect(await databaseExists(tenantDatabase(platform, service, 'peach', 'dedicated'))).toBe(false);
    }
  });

  it('changes nothing when the same create runs again', async () => {
    lines.length = 0;
    await createTenant(platform, { id: 'kiwi', name: 'Kiwi Inc', plan: 'ENTERPRISE', dedicated: true }, log);
    expect(lines).toEqual(['kiwi: already registered (dedicated), nothing to do']);
    expect(await registry('kiwi')).toHaveLength(1);
  });

  it('refuses a bad tenant id and a bad plan', async () => {
    await expect(createTenant(platform, { id: 'Bad Id', name: 'x', plan: 'FREE', dedicated: false }, log)).rejects.toThrow(
      /not a tenant id/,
    );
    await expect(createTenant(platform, { id: 'okay', name: 'x', plan: 'GOLD', dedicated: false }, log)).rejects.toThrow(/--plan/);
    expect(await registry('okay')).toEqual([]);
  });

  it('resumes a create that stopped half-way instead of duplicating it', async () => {
    // As if a create died after registering and making the product database, before migrating it.
    await admin(sharedDatabase('tenant', prefix), (client) =>
      client.query(
        `insert into tenant (id, slug, name, plan, placement, status) values ('lime', 'lime', 'Lime Inc', 'PRO', 'dedicated', 'provisioning')`,
      ),
    );
    await ensureDatabase(platform.adminUrl, tenantDatabase(platform, 'product', 'lime', 'dedicated'), serviceRole(platform, 'product'));
    lines.length = 0;
    await createTenant(platform, { id: 'lime', name: 'Lime Inc', plan: 'PRO', dedicated: true }, log);
    expect(lines[0]).toBe('lime: resuming a create that did not finish (dedicated)');
    expect(await registry('lime')).toMatchObject([{ status: 'active', placement: 'dedicated' }]);
    for (const service of DATA)
      expect(await appliedMigrations(tenantDatabase(platform, service, 'lime', 'dedicated'))).toBe(MIGRATIONS[service]);
  });

  it('lists tenants with their placement, status and the migration state of each database', async () => {
    const listing = await listTenants(platform);
    expect(listing.map((tenant) => [tenant.id, tenant.placement, tenant.status])).toEqual([
      ['kiwi', 'dedicated', 'active'],
      ['lime', 'dedicated', 'active'],
      ['peach', 'shared', 'active'],
    ]);
    expect(listing.find((tenant) => tenant.id === 'peach')!.databases).toEqual([
      { service: 'product', database: `${prefix}product_db`, applied: 2, pending: 0 },
      { service: 'order', database: `${prefix}order_db`, applied: 2, pending: 0 },
      { service: 'project', database: `${prefix}project_db`, applied: 2, pending: 0 },
      { service: 'analytics', database: `${prefix}analytics_db`, applied: 1, pending: 0 },
    ]);
    expect(listing.find((tenant) => tenant.id === 'kiwi')!.databases.map((db) => db.database)).toEqual([
      `${prefix}product_db__kiwi`,
      `${prefix}order_db__kiwi`,
      `${prefix}project_db__kiwi`,
      `${prefix}analytics_db__kiwi`,
    ]);
  });

  it('stops migrate at the first failing database: those before it migrated, those after it untouched', async () => {
    // Two dedicated tenants whose databases exist but were never migrated; `mb`'s product database
    // already has a table the migration wants to create.
    for (const id of ['ma', 'mb']) {
      await admin(sharedDatabase('tenant', prefix), (client) =>
        client.query(`insert into tenant (id, slug, name, plan, placement, status) values ($1, $1, $1, 'FREE', 'dedicated', 'active')`, [
          id,
        ]),
      );
      for (const service of DATA) {
        await ensureDatabase(platform.adminUrl, tenantDatabase(platform, service, id, 'dedicated'), serviceRole(platform, service));
      }
    }
    await admin(tenantDatabase(platform, 'product', 'mb', 'dedicated'), (client) => client.query('create table product (conflict int)'));
    lines.length = 0;
    const failure = await migrateAll(platform, log).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(MigrateError);
    expect((failure as MigrateError).database).toBe(`${prefix}product_db__mb`);
    expect(lines.at(-1)).toMatch(new RegExp(`^${prefix}product_db__mb: FAILED, stopping`));
    expect(await appliedMigrations(tenantDatabase(platform, 'product', 'ma', 'dedicated'))).toBe(MIGRATIONS.product);
    expect(await appliedMigrations(tenantDatabase(platform, 'product', 'mb', 'dedicated'))).toBe(0);
    for (const service of ['order', 'project', 'analytics']) {
      expect(await appliedMigrations(tenantDatabase(platform, service, 'ma', 'dedicated'))).toBe(0);
      expect(await appliedMigrations(tenantDatabase(platform, service, 'mb', 'dedicated'))).toBe(0);
    }
    const listing = await listTenants(platform);
    expect(listing.find((tenant) => tenant.id === 'mb')!.databases.map((db) => db.pending)).toEqual(
      DATA.map((service) => MIGRATIONS[service]),
    );

    await admin(tenantDatabase(platform, 'product', 'mb', 'dedicated'), (client) => client.query('drop table product'));
    const report = await migrateAll(platform, log);
    expect(report.filter((entry) => entry.applied.length > 0).map((entry) => entry.database)).toEqual([
      `${prefix}product_db__mb`,
      `${prefix}order_db__ma`,
      `${prefix}order_db__mb`,
      `${prefix}project_db__ma`,
      `${prefix}project_db__mb`,
      `${prefix}analytics_db__ma`,
      `${prefix}analytics_db__mb`,
    ]);
  });

  describe('move under concurrent reads and writes', () => {
    let auth: TestAuth;
    let url: string;
    let stop: () => Promise<void>;

    beforeAll(async () => {
      auth = await createTestAuth();
      const load = () =>
        admin(sharedDatabase('tenant', prefix), async (client) => (await client.query('select * from tenant')).rows as TenantRecord[]);
      const router = createDatabaseRouter<any>({
        sharedUrl: serviceDatabaseUrl(platform, 'product'),
        registry: cachedRegistry(load, { ttlMs: FAST.cacheTtlMs, missRefreshMs: 100 }),
      });
      const server = createProductServer({
        databases: router,
        verifier: auth.verifier,
        logger: createLogger({ service: 'product' }, 'silent'),
        metrics: createMetrics('product'),
        ready: async () => {},
      });
      url = `http://127.0.0.1:${await server.start(0, '127.0.0.1')}/graphql`;
      stop = async () => {
        await server.stop();
        await auth.close();
      };
    });
    afterAll(async () => stop());

    const productsQuery = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Tenant { products(first: 100) { totalCount nodes { sku } } } } }`;

    async function readProducts(tenant: string) {
      const response = await graphql(url, {
        token: await auth.token(tenant),
        query: productsQuery,
        variables: { r: [{ __typename: 'Tenant', id: tenant }] },
      });
      return response;
    }

    async function createProduct(tenant: string, sku: string) {
      return graphql(url, {
        token: await auth.token(tenant, ['products:write']),
        query: 'mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }',
        variables: { i: { sku, name: sku, priceCents: 100 } },
      });
    }

    /** Reads and writes as `tenant` until stopped; every read must succeed, writes may be refused while it moves. */
    function traffic(tenant: string, tag: string) {
      const state = {
        running: true,
        reads: 0,
        failedReads: [] as unknown[],
        written: [] as string[],
        refused: 0,
        otherWriteErrors: [] as unknown[],
      };
      const readers = Array.from({ length: 3 }, async () => {
        while (state.running) {
          const response = await readProducts(tenant);
          if (response.body.errors || response.status !== 200) state.failedReads.push(response.body.errors ?? response.status);
          state.reads++;
        }
      });
      const writer = (async () => {
        for (let n = 0; state.running; n++) {
          const sku = `${tenant}-${tag}-${n}`;
          const response = await createProduct(tenant, sku);
          const code = errorCode(response.body.errors?.[0]);
          if (!response.body.errors) state.written.push(sku);
          else if (code === 'SERVICE_UNAVAILABLE') state.refused++;
          else state.otherWriteErrors.push(response.body.errors);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();
      return {
        state,
        async stop() {
          state.running = false;
          await Promise.all([...readers, writer]);
          return state;
        },
      };
    }

    it('moves a tenant to dedicated databases and back, reads served throughout, no row lost or duplicated', async () => {
      await createTenant(platform, { id: 'plum', name: 'Plum Inc', plan: 'PRO', dedicated: false }, log);
      for (const n of [1, 2, 3, 4, 5]) expect((await createProduct('peach', `peach-${n}`)).body.errors).toBeUndefined();
      expect((await createProduct('plum', 'plum-1')).body.errors).toBeUndefined();
      await seedOrdersAndProjects('peach', 'shared');
      await seedOrdersAndProjects('plum', 'shared');
      const plumBefore = await everyCount('plum', 'shared');
      const before = await everyCount('peach', 'shared');
      expect(before).toEqual({
        product: 5,
        sales_order: 3,
        sales_order_line: 6,
        order_number_counter: 1,
        organization: 1,
        member: 1,
        project: 2,
        task: 2,
      });

      for (const [to, from] of [
        ['dedicated', 'shared'],
        ['shared', 'dedicated'],
      ] as const) {
        const countBefore = (await everyCount('peach', from)).product!;
        const load = traffic('peach', to);
        lines.length = 0;
        await moveTenant(platform, 'peach', to, log, FAST);
        // Writes resume once the status is active again, against the new databases.
        await new Promise((resolve) => setTimeout(resolve, FAST.cacheTtlMs + 200));
        const result = await load.stop();

        expect(result.failedReads).toEqual([]);
        expect(result.otherWriteErrors).toEqual([]);
        expect(result.reads).toBeGreaterThan(10);
        expect(result.refused).toBeGreaterThan(0);
        const after = await everyCount('peach', to);
        expect(after).toEqual({ ...before, product: countBefore + result.written.length });
        const skus = (await readProducts('peach')).body.data._entities[0].products.nodes.map((node: { sku: string }) => node.sku);
        expect(new Set(skus).size).toBe(skus.length);
        for (const sku of result.written) expect(skus).toContain(sku);
        if (to === 'dedicated') {
          expect(Object.values(await everyCount('peach', 'shared')).every((count) => count === 0)).toBe(true);
        } else {
          for (const service of ['product', 'order', 'project']) {
            expect(await databaseExists(tenantDatabase(platform, service, 'peach', 'dedicated'))).toBe(false);
          }
        }
        expect(await registry('peach')).toMatchObject([{ placement: to, status: 'active' }]);
        expect(lines).toContain(`peach: placement switched to ${to}`);
        expect(await everyCount('plum', 'shared')).toEqual(plumBefore);
      }
      // Two moves with their fences, under load from three readers and a writer: a loaded CI machine needs more than 30 s.
    }, 180_000);

    it('refuses a move of an unknown tenant and does nothing for a tenant already in place', async () => {
      await expect(moveTenant(platform, 'nobody', 'dedicated', log, FAST)).rejects.toThrow('no tenant "nobody" is registered');
      lines.length = 0;
      await moveTenant(platform, 'kiwi', 'dedicated', log, FAST);
      expect(lines).toEqual(['kiwi: already dedicated, nothing to do']);
    });

    it('deletes a tenant: its shared rows and dedicated databases go, other tenants stay, a second delete does nothing', async () => {
      const plumBefore = await everyCount('plum', 'shared');
      await deleteTenant(platform, 'peach', log, FAST);
      await deleteTenant(platform, 'kiwi', log, FAST);
      expect(await registry('peach')).toEqual([]);
      expect(await registry('kiwi')).toEqual([]);
      expect(Object.values(await everyCount('peach', 'shared')).every((count) => count === 0)).toBe(true);
      for (const service of ['product', 'order', 'project']) {
        expect(await databaseExists(tenantDatabase(platform, service, 'kiwi', 'dedicated'))).toBe(false);
      }
      expect(await everyCount('plum', 'shared')).toEqual(plumBefore);
      expect((await readProducts('peach')).body.errors?.[0]?.extensions?.code).toBe('UNKNOWN_TENANT');
      lines.length = 0;
      await deleteTenant(platform, 'peach', log, FAST);
      expect(lines).toEqual(['peach: not registered, nothing to do']);
    });
  });
});

describe('dedicated database names of long tenant ids', () => {
  // 62 characters each, the same but for the end: PostgreSQL would cut both names to one.
  const first = `${'q'.repeat(58)}-one`;
  const second = `${'q'.repeat(58)}-two`;
  /** An id whose plain database name equals the hashed name of `first`'s product database. */
  const crafted = () => {
    const shared = sharedDatabase('product', prefix);
    return tenantDatabase(platform, 'product', first, 'dedicated').slice(`${shared}__`.length).replaceAll('_', '-');
  };

  it('gives two long ids that differ only past 63 bytes databases of their own, and deleting one keeps the other', async () => {
    await createTenant(platform, { id: first, name: 'First Inc', plan: 'PRO', dedicated: true }, log);
    await createTenant(platform, { id: second, name: 'Second Inc', plan: 'PRO', dedicated: true }, log);
    await seedOrdersAndProjects(first, 'dedicated');
    const before = await everyCount(first, 'dedicated');
    for (const service of ['product', 'order', 'project']) {
      const [a, b] = [tenantDatabase(platform, service, first, 'dedicated'), tenantDatabase(platform, service, second, 'dedicated')];
      expect(a).not.toBe(b);
      expect(Buffer.byteLength(a)).toBeLessThanOrEqual(63);
      expect(await databaseExists(a)).toBe(true);
      expect(await databaseExists(b)).toBe(true);
    }
    await deleteTenant(platform, second, log, FAST);
    expect(await everyCount(first, 'dedicated')).toEqual(before);
    expect(Object.values(before).some((count) => count > 0)).toBe(true);
  }, 180_000);

  it('refuses to create a tenant whose dedicated database would have the name of another tenant’s', async () => {
    const id = crafted();
    await expect(createTenant(platform, { id, name: 'Crafted', plan: 'FREE', dedicated: false }, log)).rejects.toThrow(
      /same dedicated database/,
    );
    expect(await registry(id)).toEqual([]);
  });

  it('never drops a database another tenant is placed in, when two registered tenants share one', async () => {
    // As an older version could have registered it (names cut by PostgreSQL): straight into the registry.
    const id = crafted();
    await admin(sharedDatabase('tenant', prefix), (client) =>
      client.query(
        `insert into tenant (id, slug, name, plan, placement, status) values ($1, $1, 'Crafted', 'FREE', 'dedicated', 'active')`,
        [id],
      ),
    );
    const before = await everyCount(first, 'dedicated');
    await deleteTenant(platform, id, log, FAST);
    expect(await databaseExists(tenantDatabase(platform, 'product', first, 'dedicated'))).toBe(true);
    expect(await everyCount(first, 'dedicated')).toEqual(before);
    expect(lines.some((line) => line.includes(`kept ${tenantDatabase(platform, 'product', first, 'dedicated')}`))).toBe(true);
  }, 60_000);
});

describe('the move fence and the registry staleness bound', () => {
  it('switches placement, and removes the source, only once every service has seen the fence or stopped serving', async () => {
    const stamped: { at: number; line: string }[] = [];
    const stampedLog = (line: string) => stamped.push({ at: Date.now(), line });
    await createTenant(platform, { id: 'fig', name: 'Fig Inc', plan: 'FREE', dedicated: false }, log);
    // A service cut off from the registry serves its last list for up to maxStaleMs (REGISTRY_MAX_STALE).
    const options = { cacheTtlMs: 100, maxStaleMs: 5_000, marginMs: 100 };
    await moveTenant(platform, 'fig', 'dedicated', stampedLog, options);
    const after = (text: string) => {
      const index = stamped.findIndex(({ line }) => line.includes(text));
      expect(index, text).toBeGreaterThanOrEqual(0);
      // The first thing done after the wait that follows this line.
      const next = stamped.slice(index + 1).find(({ line }) => !line.includes('waiting'));
      return (next?.at ?? 0) - stamped[index]!.at;
    };
    expect(after('status moving')).toBeGreaterThanOrEqual(5_100);
    expect(after('placement switched')).toBeGreaterThanOrEqual(5_100);
    expect(await registry('fig')).toMatchObject([{ placement: 'dedicated', status: 'active' }]);
  }, 120_000);
});
