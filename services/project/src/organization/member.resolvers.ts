import { badUserInput, localIdOf, notFound, requireScope, toGlobalId } from '@tenantgraph/core';
import { withTenant } from '@tenantgraph/database';
import type { ProjectContext } from '../context.ts';
import { insertMember } from './member.repository.ts';
import type { MemberRow } from './member.table.ts';
import { findOrganizationsByIds } from './organization.repository.ts';

export function memberRowToMember(row: MemberRow) {
  return {
    id: toGlobalId(row.tenant_id, row.id),
    name: row.name,
    email: row.email,
  };
}

type AddMemberInput = { organizationId: string; name: string; email: string };

// Plausible, not RFC 5322: one @, no spaces, a dot in the domain. Delivery is the real test.
const EMAIL_PATTERN = /^[^\s@]+@[^\s@.]+(?:\.[^\s@.]+)+$/;

export const memberResolvers = {
  Mutation: {
    async addMember(_: unknown, { input }: { input: AddMemberInput }, context: ProjectContext) {
      requireScope(context.viewer, 'projects:write');
      const member = validateAddMember(input);
      const { db, tenantId } = context;
      const organizationId = localIdOf(input.organizationId, tenantId, 'organization');
      if (!organizationId) throw notFound('organization', input.organizationId);
      const row = await withTenant(db, tenantId, async (trx) => {
        const [organization] = await findOrganizationsByIds(trx, tenantId, [organizationId]);
        if (!organization) throw notFound('organization', input.organizationId);
        return insertMember(trx, tenantId, { ...member, organization_id: organizationId });
      }).catch((error: { code?: string }) => {
        if (error.code === '23505') throw badUserInput(`"${member.email}" is already a member of this organization.`, 'email');
        throw error;
      });
      return memberRowToMember(row);
    },
  },
};

function validateAddMember(input: AddMemberInput) {
  const name = input.name.trim();
  // Lower-cased so that one address cannot join the same organization twice in different cases.
  const email = input.email.trim().toLowerCase();
  if (name.length === 0 || name.length > 200) throw badUserInput('name must be 1 to 200 characters.', 'name');
  if (email.length > 254 || !EMAIL_PATTERN.test(email)) throw badUserInput('email must be an email address.', 'email');
  return { name, email };
}
