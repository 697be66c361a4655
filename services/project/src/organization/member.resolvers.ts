import { localIdOf, notFound } from '@tenantgraph/core';
import type { ProjectContext } from '../context.ts';
import { addMember } from './member.service.ts';
import { type AddMemberInput, memberRowToMember, validateAddMember } from './member.ts';

export const memberResolvers = {
  Mutation: {
    async addMember(_: unknown, { input }: { input: AddMemberInput }, context: ProjectContext) {
      const member = validateAddMember(input);
      const organizationId = localIdOf(input.organizationId, context.tenantId, 'organization');
      if (!organizationId) throw notFound('organization', input.organizationId);
      const row = await addMember(context, { id: organizationId, globalId: input.organizationId }, member);
      return memberRowToMember(row);
    },
  },
};
