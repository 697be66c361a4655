import { listPage, localIdOf, parseGlobalId, selectsField } from '@tenantgraph/core';
import { tenantEntityResolvers } from '@tenantgraph/server-kit';
import type { GraphQLResolveInfo } from 'graphql';
import type { ProjectContext } from '../context.ts';
import { projectRowToProject } from '../project/project.ts';
import { findOrganizations } from './organization.repository.ts';
import { createOrganization } from './organization.service.ts';
import { type CreateOrganizationInput, type Organization, organizationRowToOrganization } from './organization.ts';

type ListArgs = { first?: number | null; after?: string | null };

/** The row id behind an id this subgraph handed out itself. */
const rowIdOf = (organization: Organization) => parseGlobalId(organization.id)!.localId;

async function loadOrganization(context: ProjectContext, id: string) {
  const localId = localIdOf(id, context.tenantId, 'organization');
  const row = localId && (await context.loaders.organizationById.load(localId));
  return row ? organizationRowToOrganization(row) : null;
}

export const organizationResolvers = {
  Tenant: {
    ...tenantEntityResolvers,
    async organizations(_: unknown, args: ListArgs, { tenantId, inTenant, loaders }: ProjectContext, info: GraphQLResolveInfo) {
      const page = listPage(args, tenantId, 'organization');
      // Asked for, the member counts come with the page: `memberCount` then sends no statement of its own.
      const rows = await inTenant((trx) => findOrganizations(trx, tenantId, page, selectsField(info, 'memberCount')));
      for (const row of rows) if (row.member_count != null) loaders.memberCountByOrganizationId.prime(row.id, row.member_count);
      return rows.map(organizationRowToOrganization);
    },
  },
  Organization: {
    __resolveReference: (reference: { id: string }, context: ProjectContext) => loadOrganization(context, reference.id),
    memberCount: (organization: Organization, _: unknown, context: ProjectContext) =>
      context.loaders.memberCountByOrganizationId.load(rowIdOf(organization)),
    async projects(organization: Organization, args: ListArgs, { tenantId, loaders }: ProjectContext, info: GraphQLResolveInfo) {
      const page = listPage(args, tenantId, 'project');
      // Asked for, the task counts come with the projects: `taskCount` then sends no statement of its own.
      const withTaskCount = selectsField(info, 'taskCount');
      const loader = withTaskCount ? loaders.projectsWithTaskCountByOrganizationId : loaders.projectsByOrganizationId;
      const rows = await loader.load({ key: rowIdOf(organization), ...page });
      for (const row of rows) if (row.task_count != null) loaders.taskCountByProjectId.prime(row.id, row.task_count);
      return rows.map(projectRowToProject);
    },
  },
  Mutation: {
    async createOrganization(_: unknown, { input }: { input: CreateOrganizationInput }, context: ProjectContext) {
      return organizationRowToOrganization(await createOrganization(context, input));
    },
  },
};
