import { withTenant } from '@tenantgraph/database';
import type { Kysely } from 'kysely';
import type { SubgraphContext } from './subgraph.ts';

/** A tenant and a way to run work in a transaction bound to it: what services and loaders need. */
export type TenantScope<DB> = {
  tenantId: string;
  /**
   * Runs `work` in one transaction with `app.tenant_id` set to this tenant (`withTenant`), on the
   * database holding its rows, under the request's deadline: row-level security shows and accepts
   * this tenant's rows only.
   */
  inTenant<T>(work: (trx: Kysely<DB>) => Promise<T>): Promise<T>;
};

/** The request context of every room: the verified caller and its tenant scope; a room adds its loaders. */
export type DataContext<DB> = SubgraphContext & TenantScope<DB>;

/**
 * The base context bound to `db`, the database holding this tenant's rows.
 * @example const scope = dataContext(base, await databases.forTenant(base.tenantId))
 */
export function dataContext<DB>(base: SubgraphContext, db: Kysely<DB>): DataContext<DB> {
  return { ...base, inTenant: (work) => withTenant(db, base.tenantId, work, base.deadline) };
}
