import type { TenantRecord } from '@tenantgraph/core';
import { reusableRead } from '@tenantgraph/database';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../database.ts';
import type { NewTenantRow, TenantRow, TenantUpdate } from './tenant.table.ts';

export async function findTenant(db: Kysely<Database>, tenantId: string): Promise<TenantRow | undefined> {
  return db.selectFrom('tenant').selectAll().where('id', '=', tenantId).executeTakeFirst();
}

/** The tenants with these ids (the `Tenant` entity's loader: its statement compiled once, see `reusableRead`). */
export const findTenantsByIds: (db: Kysely<Database>, ids: readonly string[]) => Promise<TenantRow[]> = reusableRead(
  (db: Kysely<Database>, ids: readonly string[]) => db.selectFrom('tenant').selectAll().where('id', 'in', ids),
);

export async function renameTenant(db: Kysely<Database>, tenantId: string, name: string): Promise<TenantRow | undefined> {
  return db.updateTable('tenant').set({ name, updated_at: sql`now()` }).where('id', '=', tenantId).returningAll().executeTakeFirst();
}

/** Every tenant, for the registry: the one query that reads across tenants, in read-only mode. */
export async function listTenants(db: Kysely<Database>): Promise<TenantRecord[]> {
  return db.transaction().execute(async (trx) => {
    await sql`select set_config('app.registry_read', 'on', true)`.execute(trx);
    return trx.selectFrom('tenant').select(['id', 'slug', 'name', 'plan', 'placement', 'status']).orderBy('id').execute();
  });
}

// The registry as the platform's tenant lifecycle (`pnpm tenant`) writes it: as the operator,
// over every tenant, never through a request.

/** Every registered tenant, by id. */
export async function findTenantRows(db: Kysely<Database>): Promise<TenantRow[]> {
  return db.selectFrom('tenant').selectAll().orderBy('id').execute();
}

/** The ids of the tenants whose rows live in databases of their own. */
export async function findDedicatedTenantIds(db: Kysely<Database>): Promise<{ id: string }[]> {
  return db.selectFrom('tenant').select('id').where('placement', '=', 'dedicated').orderBy('id').execute();
}

/** The ids of every registered tenant but one. */
export async function findOtherTenantIds(db: Kysely<Database>, tenantId: string): Promise<{ id: string }[]> {
  return db.selectFrom('tenant').select('id').where('id', '<>', tenantId).execute();
}

export async function insertTenant(db: Kysely<Database>, tenant: NewTenantRow): Promise<void> {
  await db.insertInto('tenant').values(tenant).execute();
}

/** A step of the lifecycle: the tenant's status (provisioning, active, moving, deleting) or placement. */
export async function updateTenantState(db: Kysely<Database>, tenantId: string, state: Pick<TenantUpdate, 'status' | 'placement'>) {
  await db
    .updateTable('tenant')
    .set({ ...state, updated_at: sql`now()` })
    .where('id', '=', tenantId)
    .execute();
}

export async function deleteTenantRow(db: Kysely<Database>, tenantId: string): Promise<void> {
  await db.deleteFrom('tenant').where('id', '=', tenantId).execute();
}
