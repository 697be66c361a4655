import { requireSameTenant } from '@tenantgraph/core';
import type { TenantContext } from '../context.ts';
import { renameTenant } from './tenant.repository.ts';
import { tenantRowToTenant, validateTenantName } from './tenant.ts';

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
    async updateTenant(_: unknown, { input }: { input: { name: string } }, { tenantId, inTenant }: TenantContext) {
      const name = validateTenantName(input.name);
      const row = await inTenant((trx) => renameTenant(trx, tenantId, name));
      return tenantRowToTenant(row!);
    },
  },
};
