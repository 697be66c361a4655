import { badUserInput, requireSameTenant, requireScope } from '@tenantgraph/core';
import { withTenant } from '@tenantgraph/database';
import type { TenantContext } from '../context.ts';
import { renameTenant } from './tenant.repository.ts';
import type { TenantRow } from './tenant.table.ts';

export function tenantRowToTenant(row: TenantRow) {
  return { id: row.id, slug: row.slug, name: row.name, plan: row.plan, createdAt: row.created_at };
}

const loadTenant = async (context: TenantContext) => tenantRowToTenant((await context.loaders.tenantById.load(context.tenantId))!);

export const tenantResolvers = {
  Query: {
    tenant: (_: unknown, __: unknown, context: TenantContext) => loadTenant(context),
    viewer: (_: unknown, __: unknown, { viewer }: TenantContext) => ({ id: viewer.subject, scopes: viewer.scopes }),
  },
  Viewer: {
    tenant: (_: unknown, __: unknown, context: TenantContext) => loadTenant(context),
  },
  Tenant: {
    __resolveReference(reference: { id: string }, context: TenantContext) {
      requireSameTenant(context.viewer, reference.id);
      return loadTenant(context);
    },
  },
  Mutation: {
    async updateTenant(_: unknown, { input }: { input: { name: string } }, context: TenantContext) {
      requireScope(context.viewer, 'tenant:admin');
      const name = input.name.trim();
      if (name.length === 0 || name.length > 200) throw badUserInput('name must be 1 to 200 characters.', 'name');
      const row = await withTenant(context.db, context.tenantId, (trx) => renameTenant(trx, context.tenantId, name));
      return tenantRowToTenant(row!);
    },
  },
};
