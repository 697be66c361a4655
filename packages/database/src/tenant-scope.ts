import { isTenantId, serviceUnavailable } from '@tenantgraph/core';
import { type Kysely, type KyselyPlugin, sql } from 'kysely';

const readOnlyInstances = new WeakSet<Kysely<any>>();
const readOnlyOf = new WeakMap<Kysely<any>, Kysely<any>>();
const noChange: KyselyPlugin = { transformQuery: ({ node }) => node, transformResult: async ({ result }) => result };

/**
 * The same database (same pool), with every `withTenant` transaction read-only: PostgreSQL
 * itself refuses writes, and `withTenant` turns that into a retryable SERVICE_UNAVAILABLE. The
 * router hands this out while a tenant moves or is deleted.
 */
export function readOnly<DB>(db: Kysely<DB>): Kysely<DB> {
  let fenced = readOnlyOf.get(db) as Kysely<DB> | undefined;
  if (!fenced) {
    fenced = db.withPlugin(noChange);
    readOnlyInstances.add(fenced);
    readOnlyOf.set(db, fenced);
  }
  return fenced;
}

/**
 * Runs one unit of work in a transaction bound to a tenant: `app.tenant_id` is set for the
 * transaction only, so row-level security sees this tenant and nothing else, and a pooled
 * connection carries nothing over to the next request, even after a failure.
 *
 * `BEGIN` and setting the tenant travel in one round trip (the tenant id is checked against its
 * strict pattern, so it can be a literal); the work's own statements follow, then `COMMIT`.
 *
 * @example
 * const rows = await withTenant(db, 'avocado', (trx) => findProducts(trx, 'avocado', page))
 */
export async function withTenant<DB, T>(db: Kysely<DB>, tenantId: string, work: (trx: Kysely<DB>) => Promise<T>): Promise<T> {
  if (!isTenantId(tenantId)) throw new TypeError('withTenant needs a valid tenant id');
  const begin = readOnlyInstances.has(db) ? 'begin read only' : 'begin';
  try {
    return await db.connection().execute(async (connection) => {
      await sql.raw(`${begin}; select set_config('app.tenant_id', '${tenantId}', true)`).execute(connection);
      let result: T;
      try {
        result = await work(connection);
      } catch (error) {
        await sql.raw('rollback').execute(connection).catch(() => {});
        throw error;
      }
      await sql.raw('commit').execute(connection);
      return result;
    });
  } catch (error) {
    throw clearDatabaseError(error);
  }
}

/**
 * A database that cannot be reached, or a write refused while the tenant moves, as an error the
 * client understands; anything else unchanged. Only this tenant's requests see it: other
 * databases have their own pools.
 */
export function clearDatabaseError(error: unknown): unknown {
  const { code, message = '' } = (error ?? {}) as { code?: unknown; message?: string };
  if (code === '25006') return serviceUnavailable('The tenant is being moved between databases; writes resume in a few seconds. Retry.');
  if (isConnectionError(code, message)) return serviceUnavailable("The tenant's database is unavailable right now; retry shortly.");
  return error;
}

function isConnectionError(code: unknown, message: string): boolean {
  if (typeof code === 'string') {
    // 08: connection exception; 57P01-03: shut down or terminated; 3D000: no such database (renamed or dropped).
    if (code.startsWith('08') || ['57P01', '57P02', '57P03', '3D000', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT'].includes(code)) return true;
    // 55000 at connect time: the database does not accept connections (ALLOW_CONNECTIONS false).
    if (code === '55000' && message.includes('not currently accepting connections')) return true;
  }
  return /timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED/i.test(message);
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
