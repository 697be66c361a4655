import { isTenantId, serviceUnavailable } from '@tenantgraph/core';
import { type Kysely, type KyselyPlugin, RawNode, type RootOperationNode, SelectQueryNode, sql } from 'kysely';
import { ofTenant, sendWith, type TenantSettings } from './statements.ts';

/** When the request that runs a unit of work must be done by, and what ends it sooner. */
export type Deadline = {
  /** Epoch milliseconds. */
  at: number;
  /** Aborted at the deadline, or when the client went away. */
  signal: AbortSignal;
};

/** The error of work refused or stopped because its request's deadline passed or its client left. */
export const pastDeadline = () => serviceUnavailable('The request ran past its deadline and was stopped; ask for less, or retry later.');

/** Throws `pastDeadline()` once `deadline` has passed or its client has gone. */
function assertInTime(deadline: Deadline | undefined): void {
  if (deadline && (deadline.signal.aborted || Date.now() >= deadline.at)) throw pastDeadline();
}

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

const snapshotInstances = new WeakSet<Kysely<any>>();

/**
 * The same database (same pool), with every `withTenant` transaction a read-only snapshot
 * (repeatable read): each statement sees the rows as they were at the first. For reading a
 * tenant's rows as one consistent whole, as a move copies them.
 */
export function snapshotReads<DB>(db: Kysely<DB>): Kysely<DB> {
  const snapshot = db.withPlugin(noChange);
  snapshotInstances.add(snapshot);
  return snapshot;
}

/**
 * Runs one unit of work bound to a tenant: `app.tenant_id` is set for the work's transaction
 * only, so row-level security sees this tenant and nothing else, and a pooled connection carries
 * nothing over to the next request, even after a failure.
 *
 * The tenant travels with the statements: a plain read (a `select` taking no row locks) is sent
 * in one round trip with a prepared statement that sets the tenant (and, with a `deadline`,
 * `statement_timeout`) before it, itself prepared once per connection; PostgreSQL runs the two as
 * one implicit transaction, so the setting ends with it (see `TenantDriver`). Under read committed
 * that is what the read would see inside a longer transaction. The first other statement (a
 * write, a locking read) travels behind `begin` and the settings, again in one round trip (raw
 * SQL, which may hold several statements, after them in a message of its own); the rest of the
 * unit runs in that transaction, ended by `COMMIT` (or `ROLLBACK`). A unit of reads costs one
 * round trip per read and no `BEGIN`/`COMMIT`; a unit of writes one per statement, and its `COMMIT`.
 *
 * With the `deadline` of the request it serves (server-kit's `dataContext` passes it), no work
 * starts past the deadline, none of its statements is sent once the deadline passes or the client
 * leaves, and `statement_timeout` is the time left when it is lower than the connection's own.
 * The deadline is passed, not looked up in an AsyncLocalStorage: on Node 20 a store puts hooks on
 * every promise of the process.
 *
 * @example
 * const rows = await withTenant(db, 'avocado', (trx) => findProducts(trx, 'avocado', page), context.deadline)
 */
export async function withTenant<DB, T>(
  db: Kysely<DB>,
  tenantId: string,
  work: (trx: Kysely<DB>) => Promise<T>,
  deadline?: Deadline,
): Promise<T> {
  if (!isTenantId(tenantId)) throw new TypeError('withTenant needs a valid tenant id');
  const begin = snapshotInstances.has(db)
    ? 'begin isolation level repeatable read read only'
    : readOnlyInstances.has(db)
      ? 'begin read only'
      : 'begin';
  assertInTime(deadline);
  try {
    return await db.connection().execute(async (connection) => {
      // Checked again once the connection is ours: waiting for it used part of the time.
      assertInTime(deadline);
      // A snapshot reads every statement in its one repeatable-read transaction: no read goes alone.
      const unit = tenantUnit(tenantId, begin, deadline, snapshotInstances.has(db));
      // The unit's end, whatever the deadline; counted as its tenant's statement in the SQL metrics.
      const end = (statement: 'commit' | 'rollback') => {
        const compiled = sql.raw(statement).compile(connection);
        ofTenant(compiled.queryId, tenantId);
        return connection.executeQuery(compiled);
      };
      let result: T;
      try {
        result = await work(connection.withPlugin(unit.plugin));
      } catch (error) {
        if (unit.inTransaction()) await end('rollback').catch(() => {});
        throw error;
      }
      if (unit.inTransaction()) {
        // A statement sent with the COMMIT (`sendWithCommit`) that failed leaves the transaction open, aborted.
        await end('commit').catch(async (error: unknown) => {
          await end('rollback').catch(() => {});
          throw error;
        });
      }
      return result;
    });
  } catch (error) {
    throw clearDatabaseError(error, deadline);
  }
}

/**
 * The plugin that sends each statement of one unit of work with its tenant (see `withTenant`):
 * a plain read in one round trip behind the tenant's settings; the first other statement behind
 * `begin` and the settings, in a transaction that stays open for the rest of the unit.
 */
function tenantUnit(tenantId: string, begin: string, deadline: Deadline | undefined, oneTransaction: boolean) {
  let open = false;
  const settings = (): TenantSettings => ({ tenantId, timeoutMs: deadline ? Math.max(1, deadline.at - Date.now()) : undefined });
  const plugin: KyselyPlugin = {
    transformQuery: ({ node, queryId }) => {
      assertInTime(deadline);
      ofTenant(queryId, tenantId);
      if (open) return node;
      if (!oneTransaction && isPlainRead(node)) {
        sendWith(queryId, { read: settings() });
      } else {
        open = true;
        sendWith(queryId, { begin, settings: settings(), raw: RawNode.is(node) });
      }
      return node;
    },
    transformResult: async ({ result }) => result,
  };
  return { plugin, inTransaction: () => open };
}

/** A `select` that takes no row locks: safe to run as a transaction of its own. */
function isPlainRead(node: RootOperationNode): boolean {
  // A `with` may hold a data-modifying statement: sent in a transaction, like any write.
  if (!SelectQueryNode.is(node) || node.with) return false;
  const modifiers = [...(node.frontModifiers ?? []), ...(node.endModifiers ?? [])];
  return modifiers.every((modifier) => modifier.modifier === 'Distinct');
}

/**
 * A database that cannot be reached, or a write refused while the tenant moves, as an error the
 * client understands; anything else unchanged. Only this tenant's requests see it: other
 * databases have their own pools.
 */
function clearDatabaseError(error: unknown, deadline: Deadline | undefined): unknown {
  const { code, message = '' } = (error ?? {}) as { code?: unknown; message?: string };
  // 57014: cancelled by statement_timeout; under a deadline, the time left ran out.
  if (code === '57014' && deadline) return pastDeadline();
  if (code === '25006') return serviceUnavailable('The tenant is being moved between databases; writes resume in a few seconds. Retry.');
  if (isConnectionError(code, message)) return serviceUnavailable("The tenant's database is unavailable right now; retry shortly.");
  return error;
}

function isConnectionError(code: unknown, message: string): boolean {
  if (typeof code === 'string') {
    // 08: connection exception; 57P01-03: shut down or terminated; 3D000: no such database (renamed or dropped).
    if (code.startsWith('08') || ['57P01', '57P02', '57P03', '3D000', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT'].includes(code))
      return true;
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
