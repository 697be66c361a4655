import { createHash } from 'node:crypto';
import { Kysely, PostgresDialect, type PostgresPool } from 'kysely';
import pg from 'pg';
import { type ClientPool, TenantDriver, TenantQueryCompiler, tenantOfStatement } from './statements.ts';

// int8 (counts, sums) as JS numbers: every such value here is far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10));

export type ConnectOptions = {
  /** Connections in this pool. */
  max?: number;
  /** A statement running longer is cancelled by the server. */
  statementTimeoutMs?: number;
  /** Waiting longer for a free connection fails the request instead of hanging it. */
  acquireTimeoutMs?: number;
  /** Called once per statement sent, with how long it took and the tenant whose `withTenant` unit sent it (metrics). */
  onQuery?: (durationMs: number, tenantId: string | undefined) => void;
};

/**
 * A Kysely instance over its own `pg` pool. Each database gets its own instance, so pools,
 * prepared statements and session state are never shared between databases.
 */
export function connect<DB>(url: string, options: ConnectOptions = {}): Kysely<DB> {
  return kyselyOver<DB>(createPool(url, options), options);
}

/** A statement's bound unless `statementTimeoutMs` says otherwise. */
const DEFAULT_STATEMENT_TIMEOUT_MS = 5_000;

/** A `pg` pool with the settings of `connect`. */
export function createPool(url: string, options: ConnectOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.acquireTimeoutMs ?? 2_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
    // Each statement is prepared once per connection (statements.ts) and must then cost no
    // planning: PostgreSQL's default plans the first five executions for their values and keeps
    // planning every one whose generic plan it estimates dearer, as it does for `= any($1)` and the
    // tenant's `set_config`. Every read here is by the tenant's leading index key, so one plan fits all.
    options: '-c plan_cache_mode=force_generic_plan',
    application_name: 'tenantgraph',
  });
  // An idle connection dropped by the server must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  return pool;
}

/** A Kysely instance over any pool of `pg` clients (the router's bounded pools), made by `createPool` with the same options. */
export function kyselyOver<DB>(pool: ClientPool, options: Pick<ConnectOptions, 'onQuery' | 'statementTimeoutMs'> = {}): Kysely<DB> {
  const { onQuery, statementTimeoutMs = DEFAULT_STATEMENT_TIMEOUT_MS } = options;
  const postgres = new PostgresDialect({ pool: pool as unknown as PostgresPool });
  return new Kysely<DB>({
    // A driver that sends a `withTenant` unit's statements with its tenant (see `sendWith`).
    dialect: {
      createAdapter: () => postgres.createAdapter(),
      createIntrospector: (db) => postgres.createIntrospector(db),
      createQueryCompiler: () => new TenantQueryCompiler(),
      createDriver: () => new TenantDriver(pool, { statementTimeoutMs, onBefore: onQuery }),
    },
    log: onQuery
      ? (event) => {
          if (event.level === 'query') onQuery(event.queryDurationMillis, tenantOfStatement(event.query.queryId));
        }
      : undefined,
  });
}

/** The same server and credentials, another database. */
export function withDatabaseName(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/** The database a URL names. */
export function databaseNameOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

/** PostgreSQL keeps the first 63 bytes of a name and silently drops the rest. */
export const MAX_IDENTIFIER_BYTES = 63;

/**
 * Name of a tenant's dedicated database beside a service's shared one: `product_db__mango`.
 * A name that would be longer than PostgreSQL keeps (63 bytes) is cut short and ends with a
 * hash of the whole tenant id instead, so that two long ids sharing a beginning never get one
 * database. (An id crafted to equal another's hashed name is refused by `tenant create`.)
 * @example dedicatedDatabaseName('product_db', 'mango') // 'product_db__mango'
 */
export function dedicatedDatabaseName(sharedDatabase: string, tenantId: string): string {
  const plain = `${sharedDatabase}__${tenantId.replaceAll('-', '_')}`;
  if (Buffer.byteLength(plain) <= MAX_IDENTIFIER_BYTES) return plain;
  const hash = createHash('sha256').update(tenantId).digest('hex').slice(0, 12);
  return `${plain.slice(0, MAX_IDENTIFIER_BYTES - hash.length - 1)}_${hash}`;
}
