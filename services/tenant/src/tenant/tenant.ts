import { badUserInput } from '@tenantgraph/core';
import type { TenantRow } from './tenant.table.ts';

export function tenantRowToTenant(row: TenantRow) {
  return { id: row.id, slug: row.slug, name: row.name, plan: row.plan, createdAt: row.created_at };
}

export function validateTenantName(value: string) {
  const name = value.trim();
  if (name.length === 0 || name.length > 200) throw badUserInput('name must be 1 to 200 characters.', 'name');
  return name;
}
