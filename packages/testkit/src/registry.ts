import type { TenantRecord, TenantRegistry } from '@tenantgraph/core';

/** The demo tenants, as the registry publishes them. */
export const DEMO_TENANTS: TenantRecord[] = [
  { id: 'avocado', slug: 'avocado', name: 'Avocado Inc', plan: 'PRO', placement: 'shared', status: 'active' },
  { id: 'mango', slug: 'mango', name: 'Mango Inc', plan: 'ENTERPRISE', placement: 'dedicated', status: 'active' },
];

/** A registry that knows exactly these tenants (integration tests of one subgraph). */
export function staticRegistry(tenants: TenantRecord[] = DEMO_TENANTS): TenantRegistry {
  const byId = new Map(tenants.map((tenant) => [tenant.id, tenant]));
  return { get: async (id) => byId.get(id) };
}
