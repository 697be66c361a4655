import { type Kysely, type Transaction, sql } from 'kysely';

/**
 * Runs one unit of work in a transaction bound to a tenant: `app.tenant_id` is set for the
 * transaction only, so row-level security sees this tenant and nothing else, and a pooled
 * connection carries nothing over to the next request, even after a failure.
 *
 * @example
 * const rows = await withTenant(db, 'avocado', (trx) => findProducts(trx, 'avocado', page))
 */
export async function withTenant<DB, T>(
  db: Kysely<DB>,
  tenantId: string,
  work: (trx: Transaction<DB>) => Promise<T>,
): Promise<T> {
  return db.transaction().execute(async (trx) => {
    await sql`select set_config('app.tenant_id', ${tenantId}, true)`.execute(trx);
    return work(trx);
  });
}

/**
 * SQL for a migration: enables and forces row-level security on a tenant-owned table, with a
 * policy that shows and accepts only rows of the tenant set by `withTenant`. With no tenant
 * set, the table is empty.
 */
export function tenantIsolationPolicy(table: string) {
  const name = sql.id(table);
  return [
    sql`alter table ${name} enable row level security`,
    sql`alter table ${name} force row level security`,
    sql`create policy tenant_isolation on ${name}
          using (tenant_id = current_setting('app.tenant_id', true))
          with check (tenant_id = current_setting('app.tenant_id', true))`,
  ];
}
