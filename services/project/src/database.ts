import type { OutboxTable } from '@tenantgraph/events';
import type { MemberTable } from './organization/member.table.ts';
import type { OrganizationTable } from './organization/organization.table.ts';
import type { ProjectTable } from './project/project.table.ts';
import type { TaskTable } from './task/task.table.ts';

export interface Database {
  event_outbox: OutboxTable;
  organization: OrganizationTable;
  member: MemberTable;
  project: ProjectTable;
  task: TaskTable;
}
