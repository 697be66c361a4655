import { type CreatedAtPage, createdAtKeyset } from '@tenantgraph/database';
import type { ChildPage } from '@tenantgraph/server-kit';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../database.ts';
import type { NewProjectRow, ProjectRow } from './project.table.ts';

/** A page of the tenant's projects in (created_at, id) order, with one extra row to tell if more follow. */
export async function findProjects(db: Kysely<Database>, tenantId: string, page: CreatedAtPage): Promise<ProjectRow[]> {
  return db.selectFrom('project').selectAll().where('tenant_id', '=', tenantId).$call(createdAtKeyset(page)).execute();
}

export async function countProjects(db: Kysely<Database>, tenantId: string): Promise<number> {
  const { count } = await db
    .selectFrom('project')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('tenant_id', '=', tenantId)
    .executeTakeFirstOrThrow();
  return count;
}

export async function findProjectsByIds(db: Kysely<Database>, tenantId: string, ids: readonly string[]): Promise<ProjectRow[]> {
  return db.selectFrom('project').selectAll().where('tenant_id', '=', tenantId).where('id', 'in', ids).execute();
}

/**
 * A page of the projects of several organizations in one statement: each organization's oldest
 * first, at most `page.limit` of each (ranked per organization), after the project `page.after`.
 */
export async function findProjectsByOrganizationIds(
  db: Kysely<Database>,
  tenantId: string,
  organizationIds: readonly string[],
  page: ChildPage,
): Promise<ProjectRow[]> {
  let ranked = db
    .selectFrom('project')
    .selectAll()
    .select(sql<number>`row_number() over (partition by organization_id order by created_at, id)`.as('position'))
    .where('tenant_id', '=', tenantId)
    .where('organization_id', 'in', organizationIds);
  if (page.after) {
    ranked = ranked.where(
      sql<boolean>`(created_at, id) > (select p.created_at, p.id from project p where p.tenant_id = ${tenantId} and p.id = ${page.after})`,
    );
  }
  return db.selectFrom(ranked.as('ranked')).selectAll().where('position', '<=', page.limit).orderBy('created_at').orderBy('id').execute();
}

/** Inserts all the projects in one statement: a unique violation on any of them inserts none. */
export async function insertProjects(db: Kysely<Database>, tenantId: string, projects: Omit<NewProjectRow, 'tenant_id'>[]) {
  return db
    .insertInto('project')
    .values(projects.map((project) => ({ ...project, tenant_id: tenantId })))
    .returningAll()
    .execute();
}
