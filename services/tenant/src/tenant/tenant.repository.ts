import type { TenantRecord } from '@tenantgraph/core';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../database.ts';
import type { TenantRow } from './tenant.table.ts';

export async function findTenant(db: Kysely<Database>, tenantId: string): Promise<TenantRow | undefined> {
  return db.selectFrom('tenant').selectAll().where('id', '=', tenantId).executeTakeFirst();
}

export async function findTenantsByIds(db: Kysely<Database>, ids: readonly string[]): Promise<TenantRow[]> {
  return db.selectFrom('tenant').selectAll().where('id', 'in', ids).execute();
}

export async function renameTenant(db: Kysely<Database>, tenantId: string, name: string): Promise<TenantRow | undefined> {
  return db
    .updateTable('tenant')
    .set({ name, updated_at: sql`now()` })
    .where('id', '=', tenantId)
    .returningAll()
    .executeTakeFirst();
}

/** Every tenant, for the registry: the one query that reads across tenants, in read-only mode. */
export async function listTenants(db: Kysely<Database>): Promise<TenantRecord[]> {
  return db.transaction().execute(async (trx) => {
    await sql`select set_config('app.registry_read', 'on', true)`.execute(trx);
    return trx
      .selectFrom('tenant')
      .select(['id', 'slug', 'name', 'plan', 'placement', 'status'])
      .orderBy('id')
      .execute();
  });
}
