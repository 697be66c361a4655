import { notFound } from '@tenantgraph/core';
import type { TenantScope } from '@tenantgraph/server-kit';
import type { Database } from '../database.ts';
import { findProjectsByIds } from '../project/project.repository.ts';
import { insertTask } from './task.repository.ts';

/** Adds a task to one of the tenant's projects, in one transaction: NOT_FOUND when the project is missing. */
export async function createTask({ tenantId, inTenant }: TenantScope<Database>, project: { id: string; globalId: string }, title: string) {
  return inTenant(async (trx) => {
    const [found] = await findProjectsByIds(trx, tenantId, [project.id]);
    if (!found) throw notFound('project', project.globalId);
    return insertTask(trx, tenantId, { project_id: project.id, title });
  });
}
