import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { migrationsFolder as analyticsMigrations } from '@tenantgraph/analytics/migrations';
import { createLogger } from '@tenantgraph/core';
import { connect } from '@tenantgraph/database';
import { dropDatabase } from '@tenantgraph/devkit';
import { migrationsFolder as orderMigrations } from '@tenantgraph/order/migrations';
import { migrationsFolder as productMigrations } from '@tenantgraph/product/migrations';
import { migrationsFolder as projectMigrations } from '@tenantgraph/project/migrations';
import { migrateOnStart } from '@tenantgraph/server-kit';
import { migrationsFolder as tenantMigrations } from '@tenantgraph/tenant/migrations';
import { auditConnectionRole, auditRowLevelSecurity, sql } from '@tenantgraph/testkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../../../docker/postgres-init/01-service-roles.sh', import.meta.url));
const MIGRATIONS = {
  tenant: tenantMigrations,
  product: productMigrations,
  order: orderMigrations,
  project: projectMigrations,
  analytics: analyticsMigrations,
};
const SERVICES = Object.keys(MIGRATIONS) as (keyof typeof MIGRATIONS)[];

const admin = new URL(inject('pgAdminUrl'));
// Fresh names on the run's server, so that the script never touches anything else on it.
const suffix = `_t${randomBytes(4).toString('hex')}`;
const secret = () => randomBytes(12).toString('hex');
const passwords: Record<string, string> = Object.fromEntries(
  SERVICES.flatMap((s) => [
    [`${s}_svc`, secret()],
    [`${s}_migrator`, secret()],
  ]),
);

/** A URL of one of the script's databases as one of its roles, the way compose spells it. */
function url(role: string, database: string) {
  const target = new URL(admin);
  target.username = `${role}${suffix}`;
  target.password = passwords[role] ?? '';
  target.pathname = `/${database}${suffix}`;
  return target.toString();
}

/** The superuser's URL of one of the script's databases (catalog checks). */
function adminUrlOf(database: string) {
  const target = new URL(admin);
  target.pathname = `/${database}${suffix}`;
  return target.toString();
}

/** Runs statements on one connection to `connectionUrl`, closed afterwards. */
async function session<T>(connectionUrl: string, work: (run: (statement: string) => Promise<{ rows: any[] }>) => Promise<T>) {
  const db = connect(connectionUrl, { max: 1 });
  try {
    return await work((statement) => sql.raw(statement).execute(db) as Promise<{ rows: any[] }>);
  } finally {
    await db.destroy();
  }
}

/** Runs docker/postgres-init as the container's entrypoint would, against the run's server. */
function runInitScript(): Promise<{ code: number | null; output: string }> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    PGHOST: admin.hostname,
    PGPORT: admin.port || '5432',
    PGUSER: decodeURIComponent(admin.username),
    PGPASSWORD: decodeURIComponent(admin.password),
    POSTGRES_USER: decodeURIComponent(admin.username),
    TENANTGRAPH_NAME_SUFFIX: suffix,
  };
  for (const service of SERVICES) {
    env[`${service.toUpperCase()}_DB_PASSWORD`] = passwords[`${service}_svc`] ?? '';
    env[`${service.toUpperCase()}_MIGRATION_PASSWORD`] = passwords[`${service}_migrator`] ?? '';
  }
  const child = spawn('bash', [SCRIPT], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk;
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

beforeAll(async () => {
  const { code, output } = await runInitScript();
  expect(code, output).toBe(0);
  // What MIGRATE_ON_START does in each container, with compose's MIGRATION_DATABASE_URL.
  for (const service of SERVICES) {
    const migrated = await migrateOnStart(
      {
        MIGRATE_ON_START: true,
        DATABASE_URL: url(`${service}_svc`, `${service}_db`),
        MIGRATION_DATABASE_URL: url(`${service}_migrator`, `${service}_db`),
      },
      MIGRATIONS[service],
      createLogger({ service }, 'silent'),
      { attempts: 1 },
    );
    expect(migrated, `${service} migrated as its migrator`).toBe(true);
  }
}, 120_000);

afterAll(async () => {
  for (const service of SERVICES) await dropDatabase(admin.toString(), `${service}_db${suffix}`);
  await session(admin.toString(), async (run) => {
    for (const service of SERVICES) {
      for (const kind of ['svc', 'migrator', 'owner']) await run(`drop role if exists "${service}_${kind}${suffix}"`);
    }
  });
});

describe('docker/postgres-init', () => {
  it.each(SERVICES)('gives %s a login role that is neither superuser, nor BYPASSRLS, nor owner of anything', async (service) => {
    const role = await auditConnectionRole(url(`${service}_svc`, `${service}_db`));
    expect(role).toMatchObject({
      superuser: false,
      bypassRls: false,
      createRole: false,
      createDb: false,
      ownedRelations: 0,
      ownsDatabase: false,
    });
  });

  it.each(SERVICES)('leaves the %s tables to the NOLOGIN owner, with row-level security enabled and forced', async (service) => {
    const { tables } = await auditRowLevelSecurity(adminUrlOf(`${service}_db`));
    const tenantTables = tables.filter((table) => !table.table.startsWith('kysely_migration'));
    expect(tenantTables.length).toBeGreaterThan(0);
    for (const { table, enabled, forced } of tenantTables)
      expect({ table, enabled, forced }).toEqual({ table, enabled: true, forced: true });
    const owners = await session(adminUrlOf(`${service}_db`), (run) =>
      run(`select distinct pg_get_userbyid(c.relowner) as owner, r.rolcanlogin as login
             from pg_class c join pg_namespace n on n.oid = c.relnamespace join pg_roles r on r.oid = c.relowner
            where n.nspname = 'public' and c.relkind in ('r', 'p', 'S', 'v')`),
    );
    expect(owners.rows).toEqual([{ owner: `${service}_owner${suffix}`, login: false }]);
  });

  it.each(SERVICES)('lets the %s login role read and write rows, but not lift row-level security, truncate or drop', async (service) => {
    await session(url(`${service}_svc`, `${service}_db`), async (run) => {
      const { rows } = await run(
        `select tablename from pg_tables where schemaname = 'public' and tablename not like 'kysely_migration%' order by 1 limit 1`,
      );
      const table = `"${rows[0].tablename}"`;
      await run(`select count(*) from ${table}`);
      const attacks = [
        `alter table ${table} no force row level security`,
        `alter table ${table} disable row level security`,
        `truncate ${table}`,
        `drop table ${table}`,
        'create table pwned (id int)',
      ];
      for (const attack of attacks) await expect(run(attack), attack).rejects.toThrow(/must be owner|permission denied/);
    });
  });
});
