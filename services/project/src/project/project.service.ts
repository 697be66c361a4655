import { localIdOf, notFound, toGlobalId } from '@tenantgraph/core';
import { uniqueViolationAs } from '@tenantgraph/database';
import { recordEvent } from '@tenantgraph/events';
import type { TenantScope } from '@tenantgraph/server-kit';
import type { Database } from '../database.ts';
import { findOrganizationsByIds } from '../organization/organization.repository.ts';
import { insertProjects } from './project.repository.ts';

/**
 * Inserts projects into one organization in one transaction: all of them, or none when the
 * organization is missing or any name is taken, each with its `project.created` event. The rows
 * come back in the order of `names`.
 */
export async function createProjects({ tenantId, inTenant }: TenantScope<Database>, organizationGlobalId: string, names: string[]) {
  const organizationId = localIdOf(organizationGlobalId, tenantId, 'organization');
  if (!organizationId) throw notFound('organization', organizationGlobalId);
  const rows = await inTenant(async (trx) => {
    const [organization] = await findOrganizationsByIds(trx, tenantId, [organizationId]);
    if (!organization) throw notFound('organization', organizationGlobalId);
    const inserted = await insertProjects(
      trx,
      tenantId,
      names.map((name) => ({ organization_id: organizationId, name })),
    );
    // One event per project, in the same transaction: all of them or none.
    await recordEvent(
      trx,
      tenantId,
      inserted.map((row) => ({
        type: 'project.created' as const,
        entityId: toGlobalId(tenantId, row.id),
        payload: { name: row.name, organizationId: organizationGlobalId },
      })),
    );
    return inserted;
  }).catch(uniqueViolationAs('A project with this name already exists in the organization.', names.length === 1 ? 'name' : 'names'));
  // RETURNING does not promise the order of VALUES; answer in the order asked.
  const byName = new Map(rows.map((row) => [row.name, row]));
  return names.map((name) => byName.get(name)!);
}
