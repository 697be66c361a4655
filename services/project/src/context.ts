import type { DatabaseRouter } from '@tenantgraph/database';
import {
  countLoader,
  type DataContext,
  dataContext,
  pagedGroupLoader,
  rowLoader,
  type SubgraphContext,
  type TenantScope,
} from '@tenantgraph/server-kit';
import type { Database } from './database.ts';
import { countMembersByOrganizationIds } from './organization/member.repository.ts';
import { findOrganizationsByIds } from './organization/organization.repository.ts';
import { findProjectsByIds, findProjectsByOrganizationIds } from './project/project.repository.ts';
import { countTasksByProjectIds, findTasksByProjectIds } from './task/task.repository.ts';

export type ProjectContext = DataContext<Database> & { loaders: ReturnType<typeof createLoaders> };

/** Per request, per tenant: one statement per batch of keys, never shared between requests. */
function createLoaders({ tenantId, inTenant }: TenantScope<Database>) {
  return {
    organizationById: rowLoader(
      (ids: readonly string[]) => inTenant((trx) => findOrganizationsByIds(trx, tenantId, ids)),
      (row) => row.id,
    ),
    memberCountByOrganizationId: countLoader((ids: readonly string[]) =>
      inTenant((trx) => countMembersByOrganizationIds(trx, tenantId, ids)),
    ),
    projectById: rowLoader(
      (ids: readonly string[]) => inTenant((trx) => findProjectsByIds(trx, tenantId, ids)),
      (row) => row.id,
    ),
    projectsByOrganizationId: pagedGroupLoader(
      (ids: readonly string[], page) => inTenant((trx) => findProjectsByOrganizationIds(trx, tenantId, ids, page)),
      (row) => row.organization_id,
    ),
    /** The same pages, each project with its number of tasks (`task_count`), for a query that asks for `taskCount`. */
    projectsWithTaskCountByOrganizationId: pagedGroupLoader(
      (ids: readonly string[], page) => inTenant((trx) => findProjectsByOrganizationIds(trx, tenantId, ids, page, true)),
      (row) => row.organization_id,
    ),
    taskCountByProjectId: countLoader((ids: readonly string[]) => inTenant((trx) => countTasksByProjectIds(trx, tenantId, ids))),
    tasksByProjectId: pagedGroupLoader(
      (ids: readonly string[], page) => inTenant((trx) => findTasksByProjectIds(trx, tenantId, ids, page)),
      (row) => row.project_id,
    ),
  };
}

export async function createContext(base: SubgraphContext, databases: DatabaseRouter<Database>): Promise<ProjectContext> {
  const scope = dataContext(base, await databases.forTenant(base.tenantId));
  return { ...scope, loaders: createLoaders(scope) };
}
