import { localIdOf, notFound } from '@tenantgraph/core';
import type { ProjectContext } from '../context.ts';
import { findTaskById } from './task.repository.ts';
import { changeTaskStatus, createTask } from './task.service.ts';
import type { TaskStatus } from './task.table.ts';
import { type CreateTaskInput, taskRowToTask, validateTaskTitle } from './task.ts';

export const taskResolvers = {
  Tenant: {
    async task(_: unknown, { id }: { id: string }, { tenantId, inTenant }: ProjectContext) {
      const taskId = localIdOf(id, tenantId, 'task');
      const row = taskId && (await inTenant((trx) => findTaskById(trx, tenantId, taskId)));
      return row ? taskRowToTask(row) : null;
    },
  },
  Mutation: {
    async createTask(_: unknown, { input }: { input: CreateTaskInput }, context: ProjectContext) {
      const title = validateTaskTitle(input.title);
      const projectId = localIdOf(input.projectId, context.tenantId, 'project');
      if (!projectId) throw notFound('project', input.projectId);
      const row = await createTask(context, { id: projectId, globalId: input.projectId }, title);
      return taskRowToTask(row);
    },
    async updateTaskStatus(_: unknown, { id, status }: { id: string; status: TaskStatus }, context: ProjectContext) {
      const taskId = localIdOf(id, context.tenantId, 'task');
      if (!taskId) throw notFound('task', id);
      const row = await changeTaskStatus(context, taskId, status);
      if (!row) throw notFound('task', id);
      return taskRowToTask(row);
    },
  },
};
