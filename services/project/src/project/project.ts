import { badUserInput, toGlobalId } from '@tenantgraph/core';
import type { ProjectRow } from './project.table.ts';

const MAX_BULK_PROJECTS = 100;

/** `Project` as the schema shows it, plus the id of its organization (what `organization` loads). */
export type Project = ReturnType<typeof projectRowToProject>;

export function projectRowToProject(row: ProjectRow) {
  return {
    id: toGlobalId(row.tenant_id, row.id),
    tenant: { id: row.tenant_id },
    // Not a schema field: what `organization` loads.
    organizationId: toGlobalId(row.tenant_id, row.organization_id),
    name: row.name,
    createdAt: row.created_at,
  };
}

export type CreateProjectInput = { organizationId: string; name: string };
export type BulkCreateProjectsInput = { organizationId: string; names: string[] };

export function validateProjectName(value: string, field: string) {
  const name = value.trim();
  if (name.length === 0 || name.length > 200) throw badUserInput('A project name must be 1 to 200 characters.', field);
  return name;
}

/** The names of `bulkCreateProjects`: 1 to MAX_BULK_PROJECTS, each valid, none repeated. */
export function validateProjectNames(names: string[]) {
  if (names.length === 0 || names.length > MAX_BULK_PROJECTS) {
    throw badUserInput(`names must hold 1 to ${MAX_BULK_PROJECTS} names.`, 'names');
  }
  const valid = names.map((name) => validateProjectName(name, 'names'));
  if (new Set(valid).size !== valid.length) throw badUserInput('names must not repeat a name.', 'names');
  return valid;
}
