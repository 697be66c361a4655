import type { Generated, Insertable, Selectable } from 'kysely';

export interface ProjectTable {
  tenant_id: string;
  id: Generated<string>;
  organization_id: string;
  name: string;
  created_at: Generated<Date>;
}

export type ProjectRow = Selectable<ProjectTable>;
export type NewProjectRow = Insertable<ProjectTable>;
