import { badUserInput, toGlobalId } from '@tenantgraph/core';
import type { NewOrganizationRow, OrganizationRow } from './organization.table.ts';

/** `Organization` as the schema shows it. */
export type Organization = ReturnType<typeof organizationRowToOrganization>;

export function organizationRowToOrganization(row: OrganizationRow) {
  return {
    id: toGlobalId(row.tenant_id, row.id),
    tenant: { id: row.tenant_id },
    name: row.name,
    subscriptionTier: row.subscription_tier,
  };
}

export type CreateOrganizationInput = { name: string; subscriptionTier?: string | null };

export function validateCreateOrganization(input: CreateOrganizationInput): Omit<NewOrganizationRow, 'tenant_id'> {
  const name = input.name.trim();
  // An explicit null means the same as leaving the tier out.
  const subscriptionTier = (input.subscriptionTier ?? 'free').trim();
  if (name.length === 0 || name.length > 200) throw badUserInput('name must be 1 to 200 characters.', 'name');
  if (subscriptionTier.length === 0 || subscriptionTier.length > 50) {
    throw badUserInput('subscriptionTier must be 1 to 50 characters.', 'subscriptionTier');
  }
  return { name, subscription_tier: subscriptionTier };
}
