import {
  badUserInput,
  decodeCursor,
  localIdOf,
  notFound,
  pageSize,
  parseGlobalId,
  requireScope,
  toConnection,
  toGlobalId,
} from '@tenantgraph/core';
import { withTenant } from '@tenantgraph/database';
import type { ProjectContext } from '../context.ts';
import { findOrganizationsByIds } from '../organization/organization.repository.ts';
import { organizationRowToOrganization } from '../organization/organization.resolvers.ts';
import { taskRowToTask } from '../task/task.resolvers.ts';
import { countProjects, findProjects, insertProjects } from './project.repository.ts';
import type { ProjectRow } from './project.table.ts';

export function projectRowToProject(row: ProjectRow) {
  return {
    id: toGlobalId(row.tenant_id, row.id),
    tenant: { id: row.tenant_id },
    // Not a schema field: what `organization` loads.
    organizationId: toGlobalId(row.tenant_id, row.organization_id),
    name: row.name,
    createdAt: row.created_at,
  };
}

type Project = ReturnType<typeof projectRowToProject>;
type CreateProjectInput = { organizationId: string; name: string };
type BulkCreateProjectsInput = { organizationId: string; names: string[] };

export const MAX_BULK_PROJECTS = 100;

/** The row id behind an id this subgraph handed out itself. */
const rowIdOf = (id: string) => parseGlobalId(id)!.localId;

async function loadProject(context: ProjectContext, id: string) {
  const localId = localIdOf(id, context.tenantId, 'project');
  const row = localId && (await context.loaders.projectById.load(localId));
  return row ? projectRowToProject(row) : null;
}

/**
 * Inserts projects into one organization in one transaction: all of them, or none when the
 * organization is missing or any name is taken.
 */
async function createProjects(context: ProjectContext, organizationGlobalId: string, names: string[]) {
  const { db, tenantId } = context;
  const organizationId = localIdOf(organizationGlobalId, tenantId, 'organization');
  if (!organizationId) throw notFound('organization', organizationGlobalId);
  const rows = await withTenant(db, tenantId, async (trx) => {
    const [organization] = await findOrganizationsByIds(trx, tenantId, [organizationId]);
    if (!organization) throw notFound('organization', organizationGlobalId);
    return insertProjects(
      trx,
      tenantId,
      names.map((name) => ({ organization_id: organizationId, name })),
    );
  }).catch((error: { code?: string }) => {
    if (error.code === '23505') {
      const field = names.length === 1 ? 'name' : 'names';
      throw badUserInput('A project with this name already exists in the organization.', field);
    }
    throw error;
  });
  // RETURNING does not promise the order of VALUES; answer in the order asked.
  const byName = new Map(rows.map((row) => [row.name, row]));
  return names.map((name) => projectRowToProject(byName.get(name)!));
}

export const projectResolvers = {
  Tenant: {
    async projects(_: unknown, args: { first?: number; after?: string }, context: ProjectContext) {
      const limit = pageSize(args.first);
      const after = decodeCursor<[string, string]>(args.after, ['string', 'string']);
      const { db, tenantId } = context;
      const rows = await withTenant(db, tenantId, (trx) => findProjects(trx, tenantId, { limit, after }));
      return {
        ...toConnection(rows, limit, projectRowToProject, (row) => [row.created_at.toISOString(), row.id]),
        // Counted only when asked for.
        totalCount: () => withTenant(db, tenantId, (trx) => countProjects(trx, tenantId)),
      };
    },
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
    async tasks(project: Project, _: unknown, context: ProjectContext) {
      const rows = await context.loaders.tasksByProjectId.load(rowIdOf(project.id));
      return rows.map(taskRowToTask);
    },
  },
  Mutation: {
    async createProject(_: unknown, { input }: { input: CreateProjectInput }, context: ProjectContext) {
      requireScope(context.viewer, 'projects:write');
      const name = validateProjectName(input.name, 'name');
      const [project] = await createProjects(context, input.organizationId, [name]);
      return project;
    },
    async bulkCreateProjects(_: unknown, { input }: { input: BulkCreateProjectsInput }, context: ProjectContext) {
      requireScope(context.viewer, 'projects:write');
      if (input.names.length === 0 || input.names.length > MAX_BULK_PROJECTS) {
        throw badUserInput(`names must hold 1 to ${MAX_BULK_PROJECTS} names.`, 'names');
      }
      const names = input.names.map((name) => validateProjectName(name, 'names'));
      if (new Set(names).size !== names.length) throw badUserInput('names must not repeat a name.', 'names');
      return createProjects(context, input.organizationId, names);
    },
  },
};

function validateProjectName(value: string, field: string) {
  const name = value.trim();
  if (name.length === 0 || name.length > 200) throw badUserInput('A project name must be 1 to 200 characters.', field);
  return name;
}
