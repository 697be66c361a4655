import { type TenantRegistry, unknownTenant } from '@tenantgraph/core';
import { type DataContext, dataContext, rowLoader, type SubgraphContext, type TenantScope } from '@tenantgraph/server-kit';
import type { Kysely } from 'kysely';
import type { Database } from './database.ts';
import { findTenantsByIds } from './tenant/tenant.repository.ts';

export type TenantContext = DataContext<Database> & { loaders: ReturnType<typeof createLoaders> };

/** Per request, per tenant: one statement per batch of keys, never shared between requests. */
function createLoaders({ inTenant }: TenantScope<Database>) {
  return {
    tenantById: rowLoader(
      (ids: readonly string[]) => inTenant((trx) => findTenantsByIds(trx, ids)),
      (row) => row.id,
    ),
  };
}

export async function createContext(base: SubgraphContext, db: Kysely<Database>, registry: TenantRegistry): Promise<TenantContext> {
  if (!(await registry.get(base.tenantId))) throw unknownTenant();
  const scope = dataContext(base, db);
  return { ...scope, loaders: createLoaders(scope) };
}
