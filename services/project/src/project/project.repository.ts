import type { CountedRow } from '@tenantgraph/core';
import { type ChildPage, type CreatedAtPage, createdAtKeyset, createdAtPagePerParent, reusableRead } from '@tenantgraph/database';
import type { Kysely } from 'kysely';
import type { Database } from '../database.ts';
import type { NewProjectRow, ProjectRow } from './project.table.ts';

/**
 * A page of the tenant's projects in (created_at, id) order, with one extra row to tell if more follow;
 * with `page.withTotal`, each row also carries the count of all the tenant's projects.
 */
export async function findProjects(db: Kysely<Database>, tenantId: string, page: CreatedAtPage): Promise<CountedRow<ProjectRow>[]> {
  const query = db.selectFrom('project').selectAll().where('tenant_id', '=', tenantId).$call(createdAtKeyset(page));
  return page.withTotal ? query.select(projectCount(db, tenantId).as('total_count')).execute() : query.execute();
}

export async function countProjects(db: Kysely<Database>, tenantId: string): Promise<number> {
  const { count } = await projectCount(db, tenantId).executeTakeFirstOrThrow();
  return count;
}

function projectCount(db: Kysely<Database>, tenantId: string) {
  return db
    .selectFrom('project')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('tenant_id', '=', tenantId);
}

export async function findProjectsByIds(db: Kysely<Database>, tenantId: string, ids: readonly string[]): Promise<ProjectRow[]> {
  return db.selectFrom('project').selectAll().where('tenant_id', '=', tenantId).where('id', 'in', ids).execute();
}

/**
 * A page of the projects of several organizations in one statement: each organization's oldest
 * first, at most `page.limit` of each, after the project `page.after`; with `withTaskCount`, each
 * row also carries its number of tasks (`task_count`).
 */
export const findProjectsByOrganizationIds: (
  db: Kysely<Database>,
  tenantId: string,
  organizationIds: readonly string[],
  page: ChildPage,
  withTaskCount?: boolean,
) => Promise<(ProjectRow & { task_count?: number })[]> = reusableRead(
  (db: Kysely<Database>, tenantId: string, organizationIds: readonly string[], page: ChildPage, withTaskCount?: boolean) => {
    const tasks = withTaskCount ? { table: 'task' as const, column: 'project_id', as: 'task_count' } : undefined;
    return createdAtPagePerParent(db, 'project', { column: 'organization_id', ids: organizationIds }, tenantId, page, tasks);
  },
);

/** Inserts all the projects in one statement: a unique violation on any of them inserts none. */
export async function insertProjects(db: Kysely<Database>, tenantId: string, projects: Omit<NewProjectRow, 'tenant_id'>[]) {
  return db
    .insertInto('project')
    .values(projects.map((project) => ({ ...project, tenant_id: tenantId })))
    .returningAll()
    .execute();
}
