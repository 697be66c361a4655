import { badUserInput, localIdOf, parseGlobalId, requireScope, toGlobalId } from '@tenantgraph/core';
import { withTenant } from '@tenantgraph/database';
import { tenantEntityResolvers } from '@tenantgraph/server-kit';
import type { ProjectContext } from '../context.ts';
import { projectRowToProject } from '../project/project.resolvers.ts';
import { findOrganizations, insertOrganization } from './organization.repository.ts';
import type { OrganizationRow } from './organization.table.ts';

export function organizationRowToOrganization(row: OrganizationRow) {
  return {
    id: toGlobalId(row.tenant_id, row.id),
    tenant: { id: row.tenant_id },
    name: row.name,
    subscriptionTier: row.subscription_tier,
  };
}

type Organization = ReturnType<typeof organizationRowToOrganization>;
type CreateOrganizationInput = { name: string; subscriptionTier?: string | null };

/** The row id behind an id this subgraph handed out itself. */
const rowIdOf = (organization: Organization) => parseGlobalId(organization.id)!.localId;

async function loadOrganization(context: ProjectContext, id: string) {
  const localId = localIdOf(id, context.tenantId, 'organization');
  const row = localId && (await context.loaders.organizationById.load(localId));
  return row ? organizationRowToOrganization(row) : null;
}

export const organizationResolvers = {
  Tenant: {
    ...tenantEntityResolvers,
    async organizations(_: unknown, _args: unknown, { db, tenantId }: ProjectContext) {
      const rows = await withTenant(db, tenantId, (trx) => findOrganizations(trx, tenantId));
      return rows.map(organizationRowToOrganization);
    },
  },
  Organization: {
    __resolveReference: (reference: { id: string }, context: ProjectContext) => loadOrganization(context, reference.id),
    memberCount: (organization: Organization, _: unknown, context: ProjectContext) =>
      context.loaders.memberCountByOrganizationId.load(rowIdOf(organization)),
    async projects(organization: Organization, _: unknown, context: ProjectContext) {
      const rows = await context.loaders.projectsByOrganizationId.load(rowIdOf(organization));
      return rows.map(projectRowToProject);
    },
  },
  Mutation: {
    async createOrganization(_: unknown, { input }: { input: CreateOrganizationInput }, context: ProjectContext) {
      requireScope(context.viewer, 'projects:write');
      const organization = validateCreateOrganization(input);
      const row = await withTenant(context.db, context.tenantId, (trx) => insertOrganization(trx, context.tenantId, organization)).catch(
        (error: { code?: string }) => {
          if (error.code === '23505') throw badUserInput(`An organization named "${organization.name}" already exists.`, 'name');
          throw error;
        },
      );
      return organizationRowToOrganization(row);
    },
  },
};

function validateCreateOrganization(input: CreateOrganizationInput) {
  const name = input.name.trim();
  // An explicit null means the same as leaving the tier out.
  const subscriptionTier = (input.subscriptionTier ?? 'free').trim();
  if (name.length === 0 || name.length > 200) throw badUserInput('name must be 1 to 200 characters.', 'name');
  if (subscriptionTier.length === 0 || subscriptionTier.length > 50) {
    throw badUserInput('subscriptionTier must be 1 to 50 characters.', 'subscriptionTier');
  }
  return { name, subscription_tier: subscriptionTier };
}
