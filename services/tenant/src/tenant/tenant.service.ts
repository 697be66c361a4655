import { DEFAULT_REGISTRY_MAX_STALE_MS, isTenantId, type Placement, type TenantRecord } from '@tenantgraph/core';
import {
  copyTenantRows,
  countTenantRows,
  deleteTenantRows,
  describeCountDifferences,
  migrationState,
  type RowCounts,
  tenantOwnedTables,
} from '@tenantgraph/database';
import type { Kysely } from 'kysely';
import type { Database } from '../database.ts';
import { SERVICE } from '../migrations.ts';
import {
  deleteTenantRow,
  findDedicatedTenantIds,
  findOtherTenantIds,
  findTenant,
  findTenantRows,
  insertTenant,
  updateTenantState,
} from './tenant.repository.ts';
import type { TenantTable } from './tenant.table.ts';

// The tenant lifecycle: create, list, migrate, move and delete tenants, as the operator (`pnpm
// tenant` in tools/cli), never through a request. The rules live here; where databases are and
// how they are made, migrated and dropped is the platform's (`TenantPlatform`), so that this room
// never carries provisioning code.

/** The registry's tables, for the platform's `withRegistry`. */
export type { Database as RegistryDatabase } from '../database.ts';

/** A subgraph with databases: its name and the folder of its migrations. */
export type PlatformService = { name: string; migrationsFolder: string };

/** What the lifecycle needs of the platform it runs on. */
export interface TenantPlatform {
  /** Every subgraph with a database, this room's (`tenant`, the registry) among them. */
  services: readonly PlatformService[];
  /** Runs `work` on the registry (this room's shared database) as the operator. */
  withRegistry<T>(work: (db: Kysely<Database>) => Promise<T>): Promise<T>;
  /** A service's shared database. */
  sharedDatabase(service: string): string;
  /** The database holding a tenant's rows of a service: the shared one, or one of its own. */
  tenantDatabase(service: string, tenantId: string, placement: Placement): string;
  /** A pool of one connection on `database` as the service's login role (row-level security applies); the caller destroys it. */
  connect(service: string, database: string): Kysely<unknown>;
  /** Creates `database` if missing, owned by the service's owner role. */
  ensureDatabase(service: string, database: string): Promise<void>;
  /** Migrates `database` to the service's latest migration; the names of those applied. */
  migrate(service: string, database: string): Promise<string[]>;
  databaseExists(database: string): Promise<boolean>;
  dropDatabase(database: string): Promise<void>;
}

type Log = (line: string) => void;
type Plan = TenantTable['plan'];
const PLANS: readonly Plan[] = ['FREE', 'PRO', 'ENTERPRISE'];
const isPlan = (plan: string): plan is Plan => (PLANS as readonly string[]).includes(plan);

/** The subgraphs whose tenants' rows can live in dedicated databases: all but this one. */
const dataServices = (platform: TenantPlatform) => platform.services.filter((service) => service.name !== SERVICE);

/** Runs `work` with a connection on `database` as the service's role, closed afterwards. */
async function onDatabase<T>(platform: TenantPlatform, service: string, database: string, work: (db: Kysely<unknown>) => Promise<T>) {
  const db = platform.connect(service, database);
  try {
    return await work(db);
  } finally {
    await db.destroy();
  }
}

/** Creates a dedicated database if missing and migrates it; logs the result. */
async function prepareDedicated(platform: TenantPlatform, service: string, id: string, database: string, log: Log) {
  await platform.ensureDatabase(service, database);
  const applied = await platform.migrate(service, database);
  log(`${id}: ${database} ready (${applied.length} migration(s) applied)`);
}

export type NewTenant = { id: string; name: string; plan: string; dedicated: boolean };

/**
 * Registers a tenant. A dedicated tenant first gets one database per data subgraph, owned by
 * that subgraph's role and migrated; it becomes active only once all of them exist. Running it
 * again finishes a half-done create and changes nothing on a done one.
 */
export async function createTenant(platform: TenantPlatform, tenant: NewTenant, log: Log): Promise<void> {
  if (!isTenantId(tenant.id)) throw new Error(`"${tenant.id}" is not a tenant id: lower-case letters, digits and hyphens, at most 63`);
  const plan = tenant.plan;
  if (!isPlan(plan)) throw new Error(`--plan must be one of ${PLANS.join(', ')}`);
  if (!tenant.name.trim()) throw new Error('--name must not be empty');
  const placement = tenant.dedicated ? 'dedicated' : 'shared';
  // Also for a shared tenant: it may move to databases of its own later.
  const sharers = await dedicatedNameSharers(platform, tenant.id);
  if (sharers.length > 0) {
    throw new Error(
      `"${tenant.id}" would have the same dedicated database as another tenant: ${describeSharers(sharers)}; choose another id`,
    );
  }
  const existing = await platform.withRegistry(async (db) => {
    const row = await findTenant(db, tenant.id);
    if (!row) await insertTenant(db, { id: tenant.id, slug: tenant.id, name: tenant.name.trim(), plan, placement, status: 'provisioning' });
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
    for (const service of dataServices(platform)) {
      await prepareDedicated(platform, service.name, tenant.id, platform.tenantDatabase(service.name, tenant.id, 'dedicated'), log);
    }
  }
  await platform.withRegistry((db) => updateTenantState(db, tenant.id, { status: 'active' }));
  log(`${tenant.id}: registered, ${target}, active`);
}

export type DatabaseState = { service: string; database: string; applied: number; pending: number | undefined };
export type TenantListing = TenantRecord & { databases: DatabaseState[] };

/**
 * Every tenant with its placement and the migration state of each database holding its rows
 * (`pending` undefined: the database could not be read).
 */
export async function listTenants(platform: TenantPlatform): Promise<TenantListing[]> {
  const tenants = await platform.withRegistry(findTenantRows);
  const states = new Map<string, Promise<DatabaseState>>();
  const stateOf = (service: PlatformService, database: string) => {
    let state = states.get(database);
    if (!state) {
      state = onDatabase(platform, service.name, database, async (db) => {
        const { applied, pending } = await migrationState(db, service.migrationsFolder);
        return { service: service.name, database, applied, pending: pending.length };
      }).catch(() => ({ service: service.name, database, applied: 0, pending: undefined }));
      states.set(database, state);
    }
    return state;
  };
  const listing: TenantListing[] = [];
  for (const tenant of tenants) {
    const databases = [];
    for (const service of dataServices(platform))
      databases.push(await stateOf(service, platform.tenantDatabase(service.name, tenant.id, tenant.placement)));
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
export async function migrateAll(platform: TenantPlatform, log: Log): Promise<{ database: string; applied: string[] }[]> {
  const dedicated = await platform.withRegistry(findDedicatedTenantIds);
  const report: { database: string; applied: string[] }[] = [];
  for (const service of platform.services) {
    const databases = [platform.sharedDatabase(service.name)];
    if (service.name !== SERVICE)
      databases.push(...dedicated.map((tenant) => platform.tenantDatabase(service.name, tenant.id, 'dedicated')));
    for (const database of databases) {
      let applied: string[];
      try {
        applied = await platform.migrate(service.name, database);
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

/**
 * Other registered tenants whose dedicated database of some data subgraph has the same name as
 * `tenantId`'s (ids crafted against the hashed long names, or registered by an older version
 * whose names PostgreSQL cut at 63 bytes). Such a database must never be dropped for one of them.
 */
async function dedicatedNameSharers(platform: TenantPlatform, tenantId: string): Promise<{ tenant: string; database: string }[]> {
  const others = await platform.withRegistry((db) => findOtherTenantIds(db, tenantId));
  const sharers: { tenant: string; database: string }[] = [];
  for (const service of dataServices(platform)) {
    const database = platform.tenantDatabase(service.name, tenantId, 'dedicated');
    for (const { id } of others) {
      if (platform.tenantDatabase(service.name, id, 'dedicated') === database) sharers.push({ tenant: id, database });
    }
  }
  return sharers;
}

const describeSharers = (sharers: { tenant: string; database: string }[]) =>
  sharers.map(({ tenant, database }) => `${database} (tenant ${tenant})`).join(', ');

const describeCounts = (counts: RowCounts) =>
  Object.entries(counts)
    .map(([table, count]) => `${table} ${count}`)
    .join(', ') || 'no tables';

/** Deletes the tenant's rows of one database of a service (none if the database is gone); returns what was removed. */
async function removeRows(platform: TenantPlatform, service: string, id: string, database: string): Promise<RowCounts> {
  if (!(await platform.databaseExists(database))) return {};
  return onDatabase(platform, service, database, (db) => deleteTenantRows(db, id));
}

/**
 * Removes a tenant's dedicated database of one service: dropped, unless another tenant's
 * dedicated database has the same name; then only this tenant's rows are removed from it.
 */
async function removeDedicatedDatabase(platform: TenantPlatform, service: string, id: string, database: string, log: Log) {
  const sharers = (await dedicatedNameSharers(platform, id)).filter((sharer) => sharer.database === database);
  if (sharers.length === 0) {
    await platform.dropDatabase(database);
    log(`${id}: dropped ${database}`);
    return;
  }
  const removed = await removeRows(platform, service, id, database);
  log(
    `${id}: kept ${database}, the database of ${sharers.map((sharer) => sharer.tenant).join(', ')} too; removed its rows: ${describeCounts(removed)}`,
  );
}

/** Copies the tenant's rows of one service from `source` to `target` (see `copyTenantRows`). */
async function copyRows(platform: TenantPlatform, service: string, id: string, source: string, target: string): Promise<RowCounts> {
  return onDatabase(platform, service, source, (from) =>
    onDatabase(platform, service, target, (to) =>
      copyTenantRows(from, to, id).catch((error: unknown) => {
        throw new Error(`copying ${source} -> ${target}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      }),
    ),
  );
}

/** Before the source rows go: the target still holds as many rows as the source (unless the source is already gone). */
async function verifyBeforeRemoval(platform: TenantPlatform, service: string, id: string, source: string, target: string) {
  if (!(await platform.databaseExists(source))) return;
  await onDatabase(platform, service, source, (from) =>
    onDatabase(platform, service, target, async (to) => {
      const tables = await tenantOwnedTables(to);
      const [expected, copied] = await Promise.all([countTenantRows(from, id, tables), countTenantRows(to, id, tables)]);
      const sourceEmpty = Object.values(expected).every((count) => count === 0);
      const wrong = describeCountDifferences(tables, expected, copied);
      if (!sourceEmpty && wrong) throw new Error(`${source} changed during the move (${wrong}); nothing removed, run the move again`);
    }),
  );
}

const setState = (platform: TenantPlatform, id: string, state: Partial<Pick<TenantRecord, 'status' | 'placement'>>) =>
  platform.withRegistry((db) => updateTenantState(db, id, state));

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
 * Per service the copy is one transaction on the target (`copyTenantRows`: leftovers of an
 * earlier attempt removed, rows inserted in foreign-key order as the service role with the
 * tenant set, counts compared with the source's snapshot) and commits only when every table's
 * count matches. Running it again after a failure resumes: before the switch it copies again,
 * after it finishes the clean-up.
 */
export async function moveTenant(
  platform: TenantPlatform,
  id: string,
  to: Placement,
  log: Log,
  options: LifecycleOptions = {},
): Promise<void> {
  const tenant = await platform.withRegistry((db) => findTenant(db, id));
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
    await setState(platform, id, { status: 'moving' });
    log(`${id}: status moving; writes are refused (retryable) until the move ends, reads go on`);
    log(`${id}: waiting ${seconds(settleMs)} until every service has seen it, or stopped serving (registry cache and max staleness)`);
    await sleep(settleMs);
    for (const service of dataServices(platform)) {
      const source = platform.tenantDatabase(service.name, id, from);
      const target = platform.tenantDatabase(service.name, id, to);
      if (to === 'dedicated') await prepareDedicated(platform, service.name, id, target, log);
      const counts = await copyRows(platform, service.name, id, source, target);
      log(`${id}: copied ${source} -> ${target}: ${describeCounts(counts)}; counts verified`);
    }
    await setState(platform, id, { placement: to });
    log(`${id}: placement switched to ${to}`);
  } else {
    log(`${id}: resuming a move to ${to}: placement already switched`);
  }
  log(`${id}: waiting ${seconds(settleMs)} until no service routes to the old databases (registry cache and max staleness)`);
  await sleep(settleMs);
  for (const service of dataServices(platform)) {
    const source = platform.tenantDatabase(service.name, id, from);
    const target = platform.tenantDatabase(service.name, id, to);
    await verifyBeforeRemoval(platform, service.name, id, source, target);
    if (from === 'dedicated') {
      await removeDedicatedDatabase(platform, service.name, id, source, log);
    } else {
      const removed = await removeRows(platform, service.name, id, source);
      log(`${id}: removed its rows from ${source}: ${describeCounts(removed)}`);
    }
  }
  await setState(platform, id, { status: 'active' });
  log(`${id}: moved to ${to}, active`);
}

/**
 * Removes a tenant: status `deleting` (writes refused), then, once every service's cache has
 * seen it, its rows in each shared database (children first) and its dedicated databases, and
 * finally its registry entry. Safe to run again at any point, and on a tenant that is gone.
 */
export async function deleteTenant(platform: TenantPlatform, id: string, log: Log, options: LifecycleOptions = {}): Promise<void> {
  const tenant = await platform.withRegistry((db) => findTenant(db, id));
  if (!tenant) {
    log(`${id}: not registered, nothing to do`);
    return;
  }
  if (tenant.status !== 'deleting') {
    await setState(platform, id, { status: 'deleting' });
    log(`${id}: status deleting; waiting ${seconds(settleTime(options))} until every service has seen it, or stopped serving`);
    await sleep(settleTime(options));
  }
  for (const service of dataServices(platform)) {
    // Both places, whatever the placement: a move that stopped half-way may have left rows in either.
    const shared = platform.tenantDatabase(service.name, id, 'shared');
    const removed = await removeRows(platform, service.name, id, shared);
    log(`${id}: removed its rows from ${shared}: ${describeCounts(removed)}`);
    const dedicated = platform.tenantDatabase(service.name, id, 'dedicated');
    if (await platform.databaseExists(dedicated)) await removeDedicatedDatabase(platform, service.name, id, dedicated, log);
  }
  await platform.withRegistry((db) => deleteTenantRow(db, id));
  log(`${id}: deregistered`);
}
