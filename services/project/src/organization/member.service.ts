import { notFound } from '@tenantgraph/core';
import { uniqueViolationAs } from '@tenantgraph/database';
import type { TenantScope } from '@tenantgraph/server-kit';
import type { Database } from '../database.ts';
import { insertMember } from './member.repository.ts';
import { findOrganizationsByIds } from './organization.repository.ts';

/**
 * Adds a member to one of the tenant's organizations, in one transaction: NOT_FOUND when the
 * organization is missing, BAD_USER_INPUT when the address is a member already.
 */
export async function addMember(
  { tenantId, inTenant }: TenantScope<Database>,
  organization: { id: string; globalId: string },
  member: { name: string; email: string },
) {
  return inTenant(async (trx) => {
    const [found] = await findOrganizationsByIds(trx, tenantId, [organization.id]);
    if (!found) throw notFound('organization', organization.globalId);
    return insertMember(trx, tenantId, { ...member, organization_id: organization.id });
  }).catch(uniqueViolationAs(`"${member.email}" is already a member of this organization.`, 'email'));
}
