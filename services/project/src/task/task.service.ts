import { notFound, toGlobalId } from '@tenantgraph/core';
import { recordEvent } from '@tenantgraph/events';
import type { TenantScope } from '@tenantgraph/server-kit';
import type { Database } from '../database.ts';
import { findProjectsByIds } from '../project/project.repository.ts';
import { findTaskStatusForUpdate, insertTask, updateTaskStatus } from './task.repository.ts';
import type { TaskStatus } from './task.table.ts';

/** Adds a task to one of the tenant's projects with its `task.created` event, in one transaction: NOT_FOUND when the project is missing. */
export async function createTask({ tenantId, inTenant }: TenantScope<Database>, project: { id: string; globalId: string }, title: string) {
  return inTenant(async (trx) => {
    const [found] = await findProjectsByIds(trx, tenantId, [project.id]);
    if (!found) throw notFound('project', project.globalId);
    const row = await insertTask(trx, tenantId, { project_id: project.id, title });
    await recordEvent(trx, tenantId, {
      type: 'task.created',
      entityId: toGlobalId(tenantId, row.id),
      payload: { projectId: project.globalId, title: row.title, status: row.status },
    });
    return row;
  });
}

/**
 * Sets a task's status; when it changes, `task.status_changed` is written in the same transaction
 * (setting the status it already has changes nothing and says nothing). Undefined when the tenant
 * has no such task.
 */
export async function changeTaskStatus({ tenantId, inTenant }: TenantScope<Database>, id: string, status: TaskStatus) {
  return inTenant(async (trx) => {
    const before = await findTaskStatusForUpdate(trx, tenantId, id);
    if (!before) return undefined;
    const row = await updateTaskStatus(trx, tenantId, id, status);
    if (row && before.status !== status) {
      await recordEvent(trx, tenantId, {
        type: 'task.status_changed',
        entityId: toGlobalId(tenantId, id),
        payload: { projectId: toGlobalId(tenantId, row.project_id), from: before.status, status },
      });
    }
    return row;
  });
}
