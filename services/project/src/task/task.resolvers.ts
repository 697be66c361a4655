import { badUserInput, localIdOf, notFound, requireScope, toGlobalId } from '@tenantgraph/core';
import { withTenant } from '@tenantgraph/database';
import type { ProjectContext } from '../context.ts';
import { findProjectsByIds } from '../project/project.repository.ts';
import { insertTask, updateTaskStatus } from './task.repository.ts';
import type { TaskRow, TaskStatus } from './task.table.ts';

export function taskRowToTask(row: TaskRow) {
  return {
    id: toGlobalId(row.tenant_id, row.id),
    title: row.title,
    status: row.status,
    createdAt: row.created_at,
  };
}

type CreateTaskInput = { projectId: string; title: string };

export const taskResolvers = {
  Mutation: {
    async createTask(_: unknown, { input }: { input: CreateTaskInput }, context: ProjectContext) {
      requireScope(context.viewer, 'projects:write');
      const title = input.title.trim();
      if (title.length === 0 || title.length > 200) throw badUserInput('title must be 1 to 200 characters.', 'title');
      const { db, tenantId } = context;
      const projectId = localIdOf(input.projectId, tenantId, 'project');
      if (!projectId) throw notFound('project', input.projectId);
      const row = await withTenant(db, tenantId, async (trx) => {
        const [project] = await findProjectsByIds(trx, tenantId, [projectId]);
        if (!project) throw notFound('project', input.projectId);
        return insertTask(trx, tenantId, { project_id: projectId, title });
      });
      return taskRowToTask(row);
    },
    async updateTaskStatus(_: unknown, { id, status }: { id: string; status: TaskStatus }, context: ProjectContext) {
      requireScope(context.viewer, 'projects:write');
      const { db, tenantId } = context;
      const taskId = localIdOf(id, tenantId, 'task');
      if (!taskId) throw notFound('task', id);
      const row = await withTenant(db, tenantId, (trx) => updateTaskStatus(trx, tenantId, taskId, status));
      if (!row) throw notFound('task', id);
      return taskRowToTask(row);
    },
  },
};
