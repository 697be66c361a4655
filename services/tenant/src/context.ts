import { type TenantRegistry, unknownTenant } from '@tenantgraph/core';
import { withTenant } from '@tenantgraph/database';
import { type SubgraphContext, rowLoader } from '@tenantgraph/server-kit';
import type { Kysely } from 'kysely';
import type { Database } from './database.ts';
import type { TenantRow } from './tenant/tenant.table.ts';

export type TenantContext = SubgraphContext & {
  db: Kysely<Database>;
  loaders: ReturnType<typeof createLoaders>;
};

function createLoaders(db: Kysely<Database>, tenantId: string) {
  return {
    tenantById: rowLoader<string, TenantRow>(
      (ids) => withTenant(db, tenantId, (trx) => trx.selectFrom('tenant').selectAll().where('id', 'in', ids).execute()),
      (row) => row.id,
    ),
  };
}

export async function createContext(base: SubgraphContext, db: Kysely<Database>, registry: TenantRegistry): Promise<TenantContext> {
  if (!(await registry.get(base.tenantId))) throw unknownTenant();
  return { ...base, db, loaders: createLoaders(db, base.tenantId) };
}
