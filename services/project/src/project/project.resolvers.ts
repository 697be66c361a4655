import { listPage, localIdOf, pagedConnection, parseGlobalId } from '@tenantgraph/core';
import type { GraphQLResolveInfo } from 'graphql';
import type { ProjectContext } from '../context.ts';
import { organizationRowToOrganization } from '../organization/organization.ts';
import { taskRowToTask } from '../task/task.ts';
import { countProjects, findProjects } from './project.repository.ts';
import { createProjects } from './project.service.ts';
import {
  type BulkCreateProjectsInput,
  type CreateProjectInput,
  type Project,
  projectRowToProject,
  validateProjectName,
  validateProjectNames,
} from './project.ts';

/** The row id behind an id this subgraph handed out itself. */
const rowIdOf = (id: string) => parseGlobalId(id)!.localId;

async function loadProject(context: ProjectContext, id: string) {
  const localId = localIdOf(id, context.tenantId, 'project');
  const row = localId && (await context.loaders.projectById.load(localId));
  return row ? projectRowToProject(row) : null;
}

export const projectResolvers = {
  Tenant: {
    projects: (_: unknown, args: { first?: number; after?: string }, { tenantId, inTenant }: ProjectContext, info: GraphQLResolveInfo) =>
      pagedConnection(args, info, {
        cursor: ['string', 'string'],
        fetch: (limit, after, withTotal) => inTenant((trx) => findProjects(trx, tenantId, { limit, after, withTotal })),
        count: () => inTenant((trx) => countProjects(trx, tenantId)),
        toNode: projectRowToProject,
        cursorOf: (row) => [row.created_at.toISOString(), row.id],
      }),
    project: (_: unknown, { id }: { id: string }, context: ProjectContext) => loadProject(context, id),
  },
  Project: {
    __resolveReference: (reference: { id: string }, context: ProjectContext) => loadProject(context, reference.id),
    async organization(project: Project, _: unknown, context: ProjectContext) {
      const row = await context.loaders.organizationById.load(rowIdOf(project.organizationId));
      // The foreign key guarantees the row; its absence is a bug, not a client error.
      if (!row) throw new Error(`Project ${project.id} has no organization.`);
      return organizationRowToOrganization(row);
    },
    taskCount: (project: Project, _: unknown, context: ProjectContext) => context.loaders.taskCountByProjectId.load(rowIdOf(project.id)),
    async tasks(project: Project, args: { first?: number | null; after?: string | null }, context: ProjectContext) {
      const page = listPage(args, context.tenantId, 'task');
      const rows = await context.loaders.tasksByProjectId.load({ key: rowIdOf(project.id), ...page });
      return rows.map(taskRowToTask);
    },
  },
  Mutation: {
    async createProject(_: unknown, { input }: { input: CreateProjectInput }, context: ProjectContext) {
      const name = validateProjectName(input.name, 'name');
      const [row] = await createProjects(context, input.organizationId, [name]);
      return projectRowToProject(row!);
    },
    async bulkCreateProjects(_: unknown, { input }: { input: BulkCreateProjectsInput }, context: ProjectContext) {
      const names = validateProjectNames(input.names);
      const rows = await createProjects(context, input.organizationId, names);
      return rows.map(projectRowToProject);
    },
  },
};
