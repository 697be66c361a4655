import { type TenantRecord, isTenantId } from '@tenantgraph/core';
import { connect, dedicatedDatabaseName, ensureDatabase, migrateToLatest, migrationState, withDatabaseName } from '@tenantgraph/database';
import type { Kysely } from 'kysely';
import {
  DATA_SERVICES,
  type Platform,
  SERVICES,
  type Service,
  serviceDatabaseUrl,
  serviceRole,
  sharedDatabase,
} from './platform.ts';

type Log = (line: string) => void;
const PLANS = ['FREE', 'PRO', 'ENTERPRISE'] as const;

/** Runs `work` on the tenant registry as the superuser: the registry is the operator's, not a tenant's. */
async function withRegistry<T>(platform: Platform, work: (db: Kysely<any>) => Promise<T>): Promise<T> {
  const db = connect(withDatabaseName(platform.adminUrl, sharedDatabase('tenant')), { max: 1 });
  try {
    return await work(db);
  } finally {
    await db.destroy();
  }
}

/** Migrates one database of a service, as that service's role (so the role owns what it creates). */
async function migrateDatabase(platform: Platform, service: Service, database: string) {
  const db = connect(serviceDatabaseUrl(platform, service.name, database), { max: 1 });
  try {
    return await migrateToLatest(db, service.migrationsFolder);
  } finally {
    await db.destroy();
  }
}

/** Creates (if missing) each service's role and shared database, and migrates it. */
export async function provisionServices(platform: Platform, log: Log) {
  for (const service of SERVICES) {
    const database = sharedDatabase(service.name);
    await ensureDatabase(platform.adminUrl, database, serviceRole(platform, service.name));
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
  const existing = await withRegistry(platform, async (db) => {
    const row = await db.selectFrom('tenant').selectAll().where('id', '=', tenant.id).executeTakeFirst();
    if (!row) {
      await db
        .insertInto('tenant')
        .values({ id: tenant.id, slug: tenant.id, name: tenant.name.trim(), plan: tenant.plan, placement, status: 'provisioning' })
        .execute();
    }
    return row as TenantRecord | undefined;
  });
  if (existing?.status === 'active') {
    log(`${tenant.id}: already registered (${existing.placement}), nothing to do`);
    return;
  }
  const target = existing?.placement ?? placement;
  if (target === 'dedicated') {
    for (const service of DATA_SERVICES) {
      const database = dedicatedDatabaseName(sharedDatabase(service.name), tenant.id);
      await ensureDatabase(platform.adminUrl, database, serviceRole(platform, service.name));
      const results = await migrateDatabase(platform, service, database);
      log(`${tenant.id}: ${database} ready (${results.length} migration(s) applied)`);
    }
  }
  await withRegistry(platform, (db) => db.updateTable('tenant').set({ status: 'active' }).where('id', '=', tenant.id).execute());
  log(`${tenant.id}: registered, ${target}, active`);
}

export type TenantListing = TenantRecord & { databases: { database: string; applied: number; pending: number }[] };

/** Every tenant with its placement and the migration state of each database holding its rows. */
export async function listTenants(platform: Platform): Promise<TenantListing[]> {
  const tenants = (await withRegistry(platform, (db) => db.selectFrom('tenant').selectAll().orderBy('id').execute())) as TenantRecord[];
  const listing: TenantListing[] = [];
  for (const tenant of tenants) {
    const databases = [];
    for (const service of DATA_SERVICES) {
      const database =
        tenant.placement === 'dedicated' ? dedicatedDatabaseName(sharedDatabase(service.name), tenant.id) : sharedDatabase(service.name);
      const db = connect(serviceDatabaseUrl(platform, service.name, database), { max: 1 });
      try {
        const state = await migrationState(db, service.migrationsFolder);
        databases.push({ database, applied: state.applied, pending: state.pending.length });
      } catch {
        databases.push({ database, applied: 0, pending: -1 });
      } finally {
        await db.destroy();
      }
    }
    listing.push({ ...tenant, databases });
  }
  return listing;
}

/**
 * Brings every database to its service's latest migration: the shared ones, then each
 * dedicated tenant's. Each database migrates in its own transactions; the first failure stops
 * the run, leaving the databases already done migrated and the rest untouched.
 */
export async function migrateAll(platform: Platform, log: Log): Promise<{ database: string; applied: string[] }[]> {
  const dedicated = await withRegistry(platform, (db) =>
    db.selectFrom('tenant').select('id').where('placement', '=', 'dedicated').orderBy('id').execute(),
  );
  const report: { database: string; applied: string[] }[] = [];
  for (const service of SERVICES) {
    const databases = [sharedDatabase(service.name)];
    if (service.name !== 'tenant') databases.push(...dedicated.map((tenant) => dedicatedDatabaseName(sharedDatabase(service.name), tenant.id)));
    for (const database of databases) {
      const applied = (await migrateDatabase(platform, service, database)).map((result) => result.migrationName);
      log(`${database}: ${applied.length ? `applied ${applied.join(', ')}` : 'up to date'}`);
      report.push({ database, applied });
    }
  }
  return report;
}
