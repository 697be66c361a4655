import type { DatabaseRouter } from '@tenantgraph/database';
import { withTenant } from '@tenantgraph/database';
import { type SubgraphContext, countLoader, groupLoader, rowLoader } from '@tenantgraph/server-kit';
import type { Kysely } from 'kysely';
import type { Database } from './database.ts';
import { countMembersByOrganizationIds } from './organization/member.repository.ts';
import { findOrganizationsByIds } from './organization/organization.repository.ts';
import { findProjectsByIds, findProjectsByOrganizationIds } from './project/project.repository.ts';
import { countTasksByProjectIds, findTasksByProjectIds } from './task/task.repository.ts';

export type ProjectContext = SubgraphContext & {
  /** The database holding this tenant's rows (shared or dedicated). */
  db: Kysely<Database>;
  loaders: ReturnType<typeof createLoaders>;
};

/** Per request, per tenant: one statement per batch of keys, never shared between requests. */
function createLoaders(db: Kysely<Database>, tenantId: string) {
  const inTenant = <T>(work: (trx: Kysely<Database>) => Promise<T>) => withTenant(db, tenantId, work);
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
    projectsByOrganizationId: groupLoader(
      (ids: readonly string[]) => inTenant((trx) => findProjectsByOrganizationIds(trx, tenantId, ids)),
      (row) => row.organization_id,
    ),
    taskCountByProjectId: countLoader((ids: readonly string[]) => inTenant((trx) => countTasksByProjectIds(trx, tenantId, ids))),
    tasksByProjectId: groupLoader(
      (ids: readonly string[]) => inTenant((trx) => findTasksByProjectIds(trx, tenantId, ids)),
      (row) => row.project_id,
    ),
  };
}

export async function createContext(base: SubgraphContext, databases: DatabaseRouter<Database>): Promise<ProjectContext> {
  const db = await databases.forTenant(base.tenantId);
  return { ...base, db, loaders: createLoaders(db, base.tenantId) };
}
