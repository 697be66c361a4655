import type { Kysely } from 'kysely';
import type { Database } from '../database.ts';
import type { NewOrganizationRow, OrganizationRow } from './organization.table.ts';

/** All of the tenant's organizations by name (names are unique per tenant). */
export async function findOrganizations(db: Kysely<Database>, tenantId: string): Promise<OrganizationRow[]> {
  return db.selectFrom('organization').selectAll().where('tenant_id', '=', tenantId).orderBy('name').orderBy('id').execute();
}

export async function findOrganizationsByIds(db: Kysely<Database>, tenantId: string, ids: readonly string[]): Promise<OrganizationRow[]> {
  return db.selectFrom('organization').selectAll().where('tenant_id', '=', tenantId).where('id', 'in', ids).execute();
}

export async function insertOrganization(db: Kysely<Database>, tenantId: string, organization: Omit<NewOrganizationRow, 'tenant_id'>) {
  return db
    .insertInto('organization')
    .values({ ...organization, tenant_id: tenantId })
    .returningAll()
    .executeTakeFirstOrThrow();
}
