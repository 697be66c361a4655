import { afterRowWithId, type ChildPage } from '@tenantgraph/database';
import type { Kysely } from 'kysely';
import type { Database } from '../database.ts';
import type { NewOrganizationRow, OrganizationRow } from './organization.table.ts';

/** A page of the tenant's organizations by name (names are unique per tenant), after the organization `page.after`. */
export async function findOrganizations(db: Kysely<Database>, tenantId: string, page: ChildPage): Promise<OrganizationRow[]> {
  let query = db.selectFrom('organization').selectAll().where('tenant_id', '=', tenantId);
  if (page.after) query = query.where(afterRowWithId('organization', tenantId, page.after, 'name'));
  return query.orderBy('name').orderBy('id').limit(page.limit).execute();
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
