import { uniqueViolationAs } from '@tenantgraph/database';
import type { TenantScope } from '@tenantgraph/server-kit';
import type { Database } from '../database.ts';
import { insertOrganization } from './organization.repository.ts';
import { type CreateOrganizationInput, validateCreateOrganization } from './organization.ts';

/** Creates one of the tenant's organizations: BAD_USER_INPUT when the input is invalid or the name is taken. */
export async function createOrganization({ tenantId, inTenant }: TenantScope<Database>, input: CreateOrganizationInput) {
  const organization = validateCreateOrganization(input);
  return inTenant((trx) => insertOrganization(trx, tenantId, organization)).catch(
    uniqueViolationAs(`An organization named "${organization.name}" already exists.`, 'name'),
  );
}
