import { afterRowWithId, type ChildPage, reusableRead } from '@tenantgraph/database';
import type { Kysely } from 'kysely';
import type { Database } from '../database.ts';
import type { NewOrganizationRow, OrganizationRow } from './organization.table.ts';

/**
 * A page of the tenant's organizations by name (names are unique per tenant), after the organization `page.after`;
 * with `withMemberCount`, each row also carries its number of members (`member_count`), read by the same statement.
 */
export const findOrganizations: (
  db: Kysely<Database>,
  tenantId: string,
  page: ChildPage,
  withMemberCount?: boolean,
) => Promise<(OrganizationRow & { member_count?: number | null })[]> = reusableRead(
  (db: Kysely<Database>, tenantId: string, page: ChildPage, withMemberCount?: boolean) => {
    let query = db.selectFrom('organization').selectAll('organization').where('organization.tenant_id', '=', tenantId);
    if (page.after) query = query.where(afterRowWithId('organization', tenantId, page.after, 'name'));
    query = query.orderBy('name').orderBy('id').limit(page.limit);
    if (!withMemberCount) return query;
    return query.select((eb) =>
      eb
        .selectFrom('member')
        .select(eb.fn.countAll<number>().as('count'))
        .where('member.tenant_id', '=', tenantId)
        .whereRef('member.organization_id', '=', 'organization.id')
        .as('member_count'),
    );
  },
);

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
