import type { Generated, Insertable, Selectable } from 'kysely';

export type TaskStatus = 'TODO' | 'DOING' | 'DONE';

export interface TaskTable {
  tenant_id: string;
  id: Generated<string>;
  project_id: string;
  title: string;
  status: Generated<TaskStatus>;
  created_at: Generated<Date>;
}

export type TaskRow = Selectable<TaskTable>;
export type NewTaskRow = Insertable<TaskTable>;
