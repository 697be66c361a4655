import { DEFAULT_REGISTRY_MAX_STALE_MS, isTenantId, type TenantRecord } from '@tenantgraph/core';
import { connect, migrationState, withDatabaseName } from '@tenantgraph/database';
import { dropDatabase, ensureDatabase, migrateAsOwner } from '@tenantgraph/devkit';
import {
  deleteTenantRow,
  findDedicatedTenantIds,
  findTenant,
  findTenantRows,
  insertTenant,
  type RegistryDatabase,
  updateTenantState,
} from '@tenantgraph/tenant/registry';
import type { Kysely } from 'kysely';
import pg from 'pg';
import {
  DATA_SERVICES,
  type Platform,
  SERVICES,
  type Service,
  serviceDatabaseUrl,
  serviceRole,
  sharedDatabase,
  tenantDatabase,
} from './platform.ts';

type Log = (line: string) => void;
const PLANS = ['FREE', 'PRO', 'ENTERPRISE'] as const;

/** Runs `work` on the tenant registry as the superuser: the registry is the operator's, not a tenant's. */
async function withRegistry<T>(platform: Platform, work: (db: Kysely<RegistryDatabase>) => Promise<T>): Promise<T> {
  const db = connect<RegistryDatabase>(withDatabaseName(platform.adminUrl, sharedDatabase('tenant', platform.prefix)), { max: 1 });
  try {
    return await work(db);
  } finally {
    await db.destroy();
  }
}

/** The NOLOGIN role owning a service's databases and tables: `product_svc` → `product_owner`. */
const ownerRole = (platform: Platform, service: string) => serviceRole(platform, service).name.replace(/_svc$/, '_owner');

/**
 * Migrates one database of a service as its owner role, then grants the service's login role
 * the rows and nothing else (it is not the owner, so it cannot alter tables or their policies).
 */
async function migrateDatabase(platform: Platform, service: Service, database: string) {
  const app = serviceRole(platform, service.name).name;
  return migrateAsOwner(platform.adminUrl, database, { owner: ownerRole(platform, service.name), app }, service.migrationsFolder);
}

/** Creates (if missing) each service's role and shared database, and migrates it. */
export async function provisionServices(platform: Platform, log: Log) {
  for (const service of SERVICES) {
    const database = sharedDatabase(service.name, platform.prefix);
    await ensureDatabase(platform.adminUrl, database, serviceRole(platform, service.name), { owner: ownerRole(platform, service.name) });
    const results = await migrateDatabase(platform, service, database);
    log(`${database}: ${results.length ? `applied ${results.map((result) => result.migrationName).join(', ')}` : 'up to date'}`);
  }
}

export type NewTenant = { id: string; name: string; plan: string; dedicated: boolean };

/**
 * Registers a tenant. A dedicated tenant first gets one database per data subgraph, owned by
 * that subgraph's role and migrated; it becomes active only once all of them exist. Running it
 * again finishes a half-done create and changes nothing on a done one.
 */
export async function createTenant(platform: Platform, tenant: NewTenant, log: Log): Promise<void> {
  if (!isTenantId(tenant.id)) throw new Error(`"${tenant.id}" is not a tenant id: lower-case letters, digits and hyphens, at most 63`);
  if (!PLANS.includes(tenant.plan as (typeof PLANS)[number])) throw new Error(`--plan must be one of ${PLANS.join(', ')}`);
  if (!tenant.name.trim()) throw new Error('--name must not be empty');
  const placement = tenant.dedicated ? 'dedicated' : 'shared';
  // Also for a shared tenant: it may move to databases of its own later.
  const sharers = await dedicatedNameSharers(platform, tenant.id);
  if (sharers.length > 0) {
    throw new Error(
      `"${tenant.id}" would have the same dedicated database as another tenant: ${describeSharers(sharers)}; choose another id`,
    );
  }
  const existing = await withRegistry(platform, async (db) => {
    const row = await findTenant(db, tenant.id);
    if (!row) {
      const plan = tenant.plan as (typeof PLANS)[number];
      await insertTenant(db, { id: tenant.id, slug: tenant.id, name: tenant.name.trim(), plan, placement, status: 'provisioning' });
    }
    return row;
  });
  if (existing?.status === 'moving' || existing?.status === 'deleting') {
    throw new Error(
      `${tenant.id} is ${existing.status}; finish that first (run the same \`tenant ${existing.status === 'moving' ? 'move' : 'delete'}\` again)`,
    );
  }
  if (existing?.status === 'active') {
    log(`${tenant.id}: already registered (${existing.placement}), nothing to do`);
    return;
  }
  const target = existing?.placement ?? placement;
  if (existing) log(`${tenant.id}: resuming a create that did not finish (${target})`);
  if (target === 'dedicated') {
    for (const service of DATA_SERVICES) {
      const database = tenantDatabase(platform, service.name, tenant.id, 'dedicated');
      await ensureDatabase(platform.adminUrl, database, serviceRole(platform, service.name), { owner: ownerRole(platform, service.name) });
      const results = await migrateDatabase(platform, service, database);
      log(`${tenant.id}: ${database} ready (${results.length} migration(s) applied)`);
    }
  }
  await withRegistry(platform, (db) => updateTenantState(db, tenant.id, { status: 'active' }));
  log(`${tenant.id}: registered, ${target}, active`);
}

export type DatabaseState = { service: string; database: string; applied: number; pending: number | undefined };
export type TenantListing = TenantRecord & { databases: DatabaseState[] };

/**
 * Every tenant with its placement and the migration state of each database holding its rows
 * (`pending` undefined: the database could not be read).
 */
export async function listTenants(platform: Platform): Promise<TenantListing[]> {
  const tenants = await withRegistry(platform, findTenantRows);
  const states = new Map<string, Promise<DatabaseState>>();
  const stateOf = (service: Service, database: string) => {
    let state = states.get(database);
    if (!state) {
      state = (async () => {
        const db = connect(serviceDatabaseUrl(platform, service.name, database), { max: 1 });
        try {
          const { applied, pending } = await migrationState(db, service.migrationsFolder);
          return { service: service.name, database, applied, pending: pending.length };
        } catch {
          return { service: service.name, database, applied: 0, pending: undefined };
        } finally {
          await db.destroy();
        }
      })();
      states.set(database, state);
    }
    return state;
  };
  const listing: TenantListing[] = [];
  for (const tenant of tenants) {
    const databases = [];
    for (const service of DATA_SERVICES)
      databases.push(await stateOf(service, tenantDatabase(platform, service.name, tenant.id, tenant.placement)));
    listing.push({ ...tenant, databases });
  }
  return listing;
}

/** A `migrate` run that stopped: `database` failed, `done` were migrated before it, the rest were not touched. */
export class MigrateError extends Error {
  constructor(
    readonly database: string,
    readonly done: { database: string; applied: string[] }[],
    cause: unknown,
  ) {
    super(`${database}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * Brings every database to its service's latest migration: per service the shared one, then
 * each dedicated tenant's. Each migration runs in its own transaction; the first failure stops
 * the run (a MigrateError naming the database), leaving the databases already done migrated, the
 * failed one as its last good migration left it, and the rest untouched.
 */
export async function migrateAll(platform: Platform, log: Log): Promise<{ database: string; applied: string[] }[]> {
  // The shared databases are made if missing (a server `pnpm start` never ran on); dedicated ones are `create`'s.
  for (const service of SERVICES)
    await ensureDatabase(platform.adminUrl, sharedDatabase(service.name, platform.prefix), serviceRole(platform, service.name));
  const dedicated = await withRegistry(platform, findDedicatedTenantIds);
  const report: { database: string; applied: string[] }[] = [];
  for (const service of SERVICES) {
    const databases = [sharedDatabase(service.name, platform.prefix)];
    if (service.name !== 'tenant')
      databases.push(...dedicated.map((tenant) => tenantDatabase(platform, service.name, tenant.id, 'dedicated')));
    for (const database of databases) {
      let applied: string[];
      try {
        applied = (await migrateDatabase(platform, service, database)).map((result) => result.migrationName);
      } catch (error) {
        log(`${database}: FAILED, stopping (${error instanceof Error ? error.message : String(error)})`);
        throw new MigrateError(database, report, error);
      }
      log(`${database}: ${applied.length ? `applied ${applied.join(', ')}` : 'up to date'}`);
      report.push({ database, applied });
    }
  }
  return report;
}

export type LifecycleOptions = {
  /**
   * How long a service may keep a cached registry entry (`cachedRegistry`'s TTL, 5 s in every
   * service) ...
   */
  cacheTtlMs?: number;
  /**
   * ... and how long one cut off from the registry keeps serving its last list
   * (`REGISTRY_MAX_STALE` of the services, 60 s by default). Wherever a stale cache would matter
   * the lifecycle waits the longer of the two plus a margin: by then every running service has
   * either loaded the new status, or refuses the tenant (SERVICE_UNAVAILABLE), so none writes.
   */
  maxStaleMs?: number;
  marginMs?: number;
};

/** How long the lifecycle waits for every service to see a registry change (or to stop serving). */
const settleTime = ({ cacheTtlMs = 5_000, maxStaleMs = DEFAULT_REGISTRY_MAX_STALE_MS, marginMs = 1_000 }: LifecycleOptions) =>
  Math.max(cacheTtlMs, maxStaleMs) + marginMs;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(ms % 1000 ? 1 : 0)}s`;

async function registryRow(platform: Platform, id: string) {
  return withRegistry(platform, (db) => findTenant(db, id));
}

/**
 * Other registered tenants whose dedicated database of some data subgraph has the same name as
 * `tenantId`'s (ids crafted against the hashed long names, or registered by an older version
 * whose names PostgreSQL cut at 63 bytes). Such a database must never be dropped for one of them.
 */
async function dedicatedNameSharers(platform: Platform, tenantId: string): Promise<{ tenant: string; database: string }[]> {
  const others = await withRegistry(platform, (db) => db.selectFrom('tenant').select('id').where('id', '<>', tenantId).execute());
  const sharers: { tenant: string; database: string }[] = [];
  for (const service of DATA_SERVICES) {
    const database = tenantDatabase(platform, service.name, tenantId, 'dedicated');
    for (const { id } of others) {
      if (tenantDatabase(platform, service.name, String(id), 'dedicated') === database) sharers.push({ tenant: String(id), database });
    }
  }
  return sharers;
}

const describeSharers = (sharers: { tenant: string; database: string }[]) =>
  sharers.map(({ tenant, database }) => `${database} (tenant ${tenant})`).join(', ');

/**
 * Removes a tenant's dedicated database of one service: dropped, unless another tenant's
 * dedicated database has the same name; then only this tenant's rows are removed from it.
 */
async function removeDedicatedDatabase(platform: Platform, service: Service, id: string, database: string, log: Log) {
  const sharers = (await dedicatedNameSharers(platform, id)).filter((sharer) => sharer.database === database);
  if (sharers.length === 0) {
    await dropDatabase(platform.adminUrl, database);
    log(`${id}: dropped ${database}`);
    return;
  }
  const removed = await deleteTenantRows(platform, service, id, database);
  log(
    `${id}: kept ${database}, the database of ${sharers.map((sharer) => sharer.tenant).join(', ')} too; removed its rows: ${describeCounts(removed)}`,
  );
}

async function setRegistry(platform: Platform, id: string, values: Partial<Pick<TenantRecord, 'status' | 'placement'>>) {
  await withRegistry(platform, (db) => updateTenantState(db, id, values));
}

/**
 * Moves a tenant's rows between the shared databases and databases of its own, for every data
 * subgraph, with no row lost or duplicated and reads working throughout.
 *
 * How writes are kept out while rows are copied: the registry status becomes `moving`, and the
 * database router hands out a read-only instance for such a tenant (PostgreSQL refuses the
 * write; the client gets a retryable SERVICE_UNAVAILABLE), while reads go on from wherever the
 * cached placement points. Services cache the registry for up to `cacheTtlMs`, and one cut off
 * from the registry serves its last list for up to `maxStaleMs` and then refuses the tenant;
 * so the move waits the longer of the two (plus a margin) after setting `moving` before
 * copying, and again after switching the placement before removing the source rows: until
 * then a service may still read from the source. A per-row lock (`FOR SHARE`) would not stop inserts, and a table lock would
 * stop every tenant of a shared database; the status fence costs this tenant a few seconds of
 * refused writes and nobody else anything.
 *
 * Per service the copy is one transaction on the target (leftovers of an earlier attempt
 * removed, rows inserted in foreign-key order as the service role with the tenant set, counts
 * compared with the source's snapshot) and commits only when every table's count matches.
 * Running it again after a failure resumes: before the switch it copies again, after it
 * finishes the clean-up.
 */
export async function moveTenant(
  platform: Platform,
  id: string,
  to: 'shared' | 'dedicated',
  log: Log,
  options: LifecycleOptions = {},
): Promise<void> {
  const tenant = await registryRow(platform, id);
  if (!tenant) throw new Error(`no tenant "${id}" is registered`);
  if (tenant.status === 'deleting' || tenant.status === 'provisioning') {
    throw new Error(`${id} is ${tenant.status}; finish that first`);
  }
  if (tenant.placement === to && tenant.status === 'active') {
    log(`${id}: already ${to}, nothing to do`);
    return;
  }
  const from = to === 'dedicated' ? 'shared' : 'dedicated';
  if (to === 'dedicated' && tenant.placement !== to) {
    const sharers = await dedicatedNameSharers(platform, id);
    if (sharers.length > 0) throw new Error(`${id} cannot move to dedicated databases another tenant has: ${describeSharers(sharers)}`);
  }
  const settleMs = settleTime(options);
  if (tenant.placement !== to) {
    await setRegistry(platform, id, { status: 'moving' });
    log(`${id}: status moving; writes are refused (retryable) until the move ends, reads go on`);
    log(`${id}: waiting ${seconds(settleMs)} until every service has seen it, or stopped serving (registry cache and max staleness)`);
    await sleep(settleMs);
    for (const service of DATA_SERVICES) {
      const source = tenantDatabase(platform, service.name, id, from);
      const target = tenantDatabase(platform, service.name, id, to);
      if (to === 'dedicated') {
        await ensureDatabase(platform.adminUrl, target, serviceRole(platform, service.name), { owner: ownerRole(platform, service.name) });
        const applied = await migrateDatabase(platform, service, target);
        log(`${id}: ${target} ready (${applied.length} migration(s) applied)`);
      }
      const counts = await copyTenantRows(platform, service, id, source, target);
      log(`${id}: copied ${source} -> ${target}: ${describeCounts(counts)}; counts verified`);
    }
    await setRegistry(platform, id, { placement: to });
    log(`${id}: placement switched to ${to}`);
  } else {
    log(`${id}: resuming a move to ${to}: placement already switched`);
  }
  log(`${id}: waiting ${seconds(settleMs)} until no service routes to the old databases (registry cache and max staleness)`);
  await sleep(settleMs);
  for (const service of DATA_SERVICES) {
    const source = tenantDatabase(platform, service.name, id, from);
    const target = tenantDatabase(platform, service.name, id, to);
    await verifyBeforeRemoval(platform, service, id, source, target);
    if (from === 'dedicated') {
      await removeDedicatedDatabase(platform, service, id, source, log);
    } else {
      const removed = await deleteTenantRows(platform, service, id, source);
      log(`${id}: removed its rows from ${source}: ${describeCounts(removed)}`);
    }
  }
  await setRegistry(platform, id, { status: 'active' });
  log(`${id}: moved to ${to}, active`);
}

/**
 * Removes a tenant: status `deleting` (writes refused), then, once every service's cache has
 * seen it, its rows in each shared database (children first) and its dedicated databases, and
 * finally its registry entry. Safe to run again at any point, and on a tenant that is gone.
 */
export async function deleteTenant(platform: Platform, id: string, log: Log, options: LifecycleOptions = {}): Promise<void> {
  const tenant = await registryRow(platform, id);
  if (!tenant) {
    log(`${id}: not registered, nothing to do`);
    return;
  }
  if (tenant.status !== 'deleting') {
    await setRegistry(platform, id, { status: 'deleting' });
    log(`${id}: status deleting; waiting ${seconds(settleTime(options))} until every service has seen it, or stopped serving`);
    await sleep(settleTime(options));
  }
  for (const service of DATA_SERVICES) {
    // Both places, whatever the placement: a move that stopped half-way may have left rows in either.
    const shared = tenantDatabase(platform, service.name, id, 'shared');
    const removed = await deleteTenantRows(platform, service, id, shared);
    log(`${id}: removed its rows from ${shared}: ${describeCounts(removed)}`);
    const dedicated = tenantDatabase(platform, service.name, id, 'dedicated');
    if (await databaseExists(platform, dedicated)) await removeDedicatedDatabase(platform, service, id, dedicated, log);
  }
  await withRegistry(platform, (db) => deleteTenantRow(db, id));
  log(`${id}: deregistered`);
}

type Counts = Record<string, number>;

const describeCounts = (counts: Counts) =>
  Object.entries(counts)
    .map(([table, count]) => `${table} ${count}`)
    .join(', ') || 'no tables';

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** A client on `database` as the service's role, inside a transaction bound to the tenant. */
async function tenantClient(platform: Platform, service: Service, database: string) {
  const client = new pg.Client({
    connectionString: serviceDatabaseUrl(platform, service.name, database),
    application_name: 'tenantgraph-cli',
  });
  await client.connect();
  return client;
}

async function inTenantTransaction<T>(client: pg.Client, id: string, mode: string, work: () => Promise<T>): Promise<T> {
  await client.query(`begin ${mode}`);
  try {
    await client.query(`select set_config('app.tenant_id', $1, true)`, [id]);
    const result = await work();
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  }
}

/** The tenant-owned tables (those with `tenant_id`), parents before children. */
async function tenantTables(client: pg.Client): Promise<string[]> {
  const { rows: tables } = await client.query<{ name: string }>(
    `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind = 'r'
        and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)
      order by c.relname`,
  );
  const { rows: edges } = await client.query<{ child: string; parent: string }>(
    `select child.relname as child, parent.relname as parent from pg_constraint k
       join pg_class child on child.oid = k.conrelid join pg_class parent on parent.oid = k.confrelid
      where k.contype = 'f' and k.connamespace = 'public'::regnamespace and k.conrelid <> k.confrelid`,
  );
  const names = tables.map((table) => table.name);
  const ordered: string[] = [];
  const visit = (name: string, path: string[]) => {
    if (ordered.includes(name)) return;
    if (path.includes(name)) throw new Error(`foreign keys form a cycle: ${[...path, name].join(' -> ')}`);
    for (const edge of edges) if (edge.child === name && names.includes(edge.parent)) visit(edge.parent, [...path, name]);
    ordered.push(name);
  };
  for (const name of names) visit(name, []);
  return ordered;
}

async function countRows(client: pg.Client, tables: string[], id: string): Promise<Counts> {
  const counts: Counts = {};
  for (const table of tables) {
    const { rows } = await client.query<{ count: string }>(`select count(*) as count from ${quoteIdent(table)} where tenant_id = $1`, [id]);
    counts[table] = Number(rows[0]?.count ?? 0);
  }
  return counts;
}

const BATCH = 500;

/**
 * Copies the tenant's rows of one service from `source` to `target`. The source is read in one
 * repeatable-read snapshot; the target is written in one transaction that commits only when
 * each table's count equals the snapshot's. Rows travel as JSON, so every value keeps its exact
 * database form (timestamps to the microsecond).
 */
async function copyTenantRows(platform: Platform, service: Service, id: string, source: string, target: string): Promise<Counts> {
  const from = await tenantClient(platform, service, source);
  const to = await tenantClient(platform, service, target);
  try {
    const tables = await tenantTables(to);
    return await inTenantTransaction(from, id, 'isolation level repeatable read read only', () =>
      inTenantTransaction(to, id, '', async () => {
        for (const table of [...tables].reverse()) await to.query(`delete from ${quoteIdent(table)} where tenant_id = $1`, [id]);
        for (const table of tables) {
          for (let offset = 0; ; offset += BATCH) {
            const { rows } = await from.query<{ row: unknown }>(
              `select row_to_json(t) as row from ${quoteIdent(table)} t where tenant_id = $1 order by ctid limit ${BATCH} offset ${offset}`,
              [id],
            );
            if (rows.length === 0) break;
            await to.query(`insert into ${quoteIdent(table)} select * from json_populate_recordset(null::${quoteIdent(table)}, $1::json)`, [
              JSON.stringify(rows.map((row) => row.row)),
            ]);
            if (rows.length < BATCH) break;
          }
        }
        const expected = await countRows(from, tables, id);
        const copied = await countRows(to, tables, id);
        const wrong = tables.filter((table) => expected[table] !== copied[table]);
        if (wrong.length) {
          throw new Error(
            `row counts differ after copying ${source} -> ${target}: ${wrong.map((t) => `${t} ${expected[t]} vs ${copied[t]}`).join(', ')}`,
          );
        }
        return copied;
      }),
    );
  } finally {
    await from.end();
    await to.end();
  }
}

/** Before the source rows go: the target still holds as many rows as the source (unless the source is already gone). */
async function verifyBeforeRemoval(platform: Platform, service: Service, id: string, source: string, target: string) {
  if (!(await databaseExists(platform, source))) return;
  const from = await tenantClient(platform, service, source);
  const to = await tenantClient(platform, service, target);
  try {
    const tables = await tenantTables(to);
    const [expected, copied] = await Promise.all([
      inTenantTransaction(from, id, 'read only', () => countRows(from, tables, id)),
      inTenantTransaction(to, id, 'read only', () => countRows(to, tables, id)),
    ]);
    const sourceEmpty = Object.values(expected).every((count) => count === 0);
    const wrong = tables.filter((table) => expected[table] !== copied[table]);
    if (!sourceEmpty && wrong.length) {
      throw new Error(
        `${source} changed during the move (${wrong.map((t) => `${t} ${expected[t]} vs ${copied[t]}`).join(', ')}); nothing removed, run the move again`,
      );
    }
  } finally {
    await from.end();
    await to.end();
  }
}

/** Deletes the tenant's rows of one database, children first; returns what was removed. */
async function deleteTenantRows(platform: Platform, service: Service, id: string, database: string): Promise<Counts> {
  if (!(await databaseExists(platform, database))) return {};
  const client = await tenantClient(platform, service, database);
  try {
    const tables = await tenantTables(client);
    return await inTenantTransaction(client, id, '', async () => {
      const removed: Counts = {};
      for (const table of [...tables].reverse()) {
        const result = await client.query(`delete from ${quoteIdent(table)} where tenant_id = $1`, [id]);
        removed[table] = result.rowCount ?? 0;
      }
      return removed;
    });
  } finally {
    await client.end();
  }
}

async function databaseExists(platform: Platform, database: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: platform.adminUrl });
  await client.connect();
  try {
    return ((await client.query('select 1 from pg_database where datname = $1', [database])).rowCount ?? 0) > 0;
  } finally {
    await client.end();
  }
}
