import { type ChildPage, createdAtPagePerParent } from '@tenantgraph/database';
import type { Kysely } from 'kysely';
import type { Database } from '../database.ts';
import type { NewTaskRow, TaskRow, TaskStatus } from './task.table.ts';

/**
 * A page of the tasks of several projects in one statement: each project's oldest first, at
 * most `page.limit` of each, after the task `page.after`.
 */
export async function findTasksByProjectIds(
  db: Kysely<Database>,
  tenantId: string,
  projectIds: readonly string[],
  page: ChildPage,
): Promise<TaskRow[]> {
  return createdAtPagePerParent(db, 'task', { column: 'project_id', ids: projectIds }, tenantId, page).execute();
}

/** The number of tasks of each project that has any. */
export async function countTasksByProjectIds(db: Kysely<Database>, tenantId: string, projectIds: readonly string[]) {
  return db
    .selectFrom('task')
    .select((eb) => ['project_id as key', eb.fn.countAll<number>().as('count')])
    .where('tenant_id', '=', tenantId)
    .where('project_id', 'in', projectIds)
    .groupBy('project_id')
    .execute();
}

/** The task, or undefined when the tenant has none with this id. */
export async function findTaskById(db: Kysely<Database>, tenantId: string, id: string): Promise<TaskRow | undefined> {
  return db.selectFrom('task').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
}

export async function insertTask(db: Kysely<Database>, tenantId: string, task: Omit<NewTaskRow, 'tenant_id'>) {
  return db
    .insertInto('task')
    .values({ ...task, tenant_id: tenantId })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The updated task, or undefined when the tenant has no task with this id. */
export async function updateTaskStatus(db: Kysely<Database>, tenantId: string, id: string, status: TaskStatus) {
  return db.updateTable('task').set({ status }).where('tenant_id', '=', tenantId).where('id', '=', id).returningAll().executeTakeFirst();
}

/** The task's current status, its row locked until the transaction ends (so two changes take turns). */
export async function findTaskStatusForUpdate(db: Kysely<Database>, tenantId: string, id: string) {
  return db.selectFrom('task').select('status').where('tenant_id', '=', tenantId).where('id', '=', id).forUpdate().executeTakeFirst();
}
