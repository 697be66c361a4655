import type { Kysely } from 'kysely';
import type { Database } from '../database.ts';
import type { NewMemberRow } from './member.table.ts';

/** The number of members of each organization that has any. */
export async function countMembersByOrganizationIds(db: Kysely<Database>, tenantId: string, organizationIds: readonly string[]) {
  return db
    .selectFrom('member')
    .select((eb) => ['organization_id as key', eb.fn.countAll<number>().as('count')])
    .where('tenant_id', '=', tenantId)
    .where('organization_id', 'in', organizationIds)
    .groupBy('organization_id')
    .execute();
}

export async function insertMember(db: Kysely<Database>, tenantId: string, member: Omit<NewMemberRow, 'tenant_id'>) {
  return db
    .insertInto('member')
    .values({ ...member, tenant_id: tenantId })
    .returningAll()
    .executeTakeFirstOrThrow();
}
