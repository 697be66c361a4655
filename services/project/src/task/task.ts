import { badUserInput, toGlobalId } from '@tenantgraph/core';
import type { TaskRow } from './task.table.ts';

export function taskRowToTask(row: TaskRow) {
  return {
    id: toGlobalId(row.tenant_id, row.id),
    title: row.title,
    status: row.status,
    createdAt: row.created_at,
  };
}

export type CreateTaskInput = { projectId: string; title: string };

export function validateTaskTitle(value: string) {
  const title = value.trim();
  if (title.length === 0 || title.length > 200) throw badUserInput('title must be 1 to 200 characters.', 'title');
  return title;
}
