import { isTenantId } from '@tenantgraph/core';
import { sendWithCommit, tenantIsolationPolicy } from '@tenantgraph/database';
import { type Generated, type Insertable, type Kysely, type Selectable, sql } from 'kysely';
import { MAX_PAYLOAD_BYTES, type NewEvent } from './event.ts';

/** The outbox of a data subgraph's database: each row an event written by a change's own transaction. */
export interface OutboxTable {
  tenant_id: string;
  id: Generated<string>;
  /** Order of writing, for rows written in the same microsecond. */
  seq: Generated<number>;
  type: string;
  entity_id: string;
  payload: unknown;
  /** When it was written; within one tenant also the order of commit (see `recordEvent`). */
  occurred_at: Generated<Date>;
  /** The database the change was committed in. */
  source: Generated<string>;
  /** Set by the relay once the transport has stored the event; null while it waits. */
  sent_at: Date | null;
}

export type OutboxRow = Selectable<OutboxTable>;
export type NewOutboxRow = Insertable<OutboxTable>;

/** A database with an outbox, as `recordEvent` sees it (a room's `Database` adds `event_outbox: OutboxTable`). */
export type OutboxDatabase = { event_outbox: OutboxTable };

export const OUTBOX_TABLE = 'event_outbox';

/**
 * For a room's migration (frozen: a later change to the outbox gets a helper of its own, this one
 * stays as it is): creates `event_outbox` with `tenant_id` first in its key, row-level security
 * like every tenant table, and one more policy that only reads: with `app.outbox_relay = 'on'`
 * (set by the relay, for its transaction only) the unsent rows of every tenant are visible, so
 * the relay finds them without knowing the tenants; it marks them sent as each tenant.
 * @example export const up = (db: Kysely<any>) => createOutboxTable(db)
 */
export async function createOutboxTable(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable(OUTBOX_TABLE)
    .addColumn('tenant_id', 'text', (col) => col.notNull())
    .addColumn('id', 'uuid', (col) => col.notNull().defaultTo(sql`gen_random_uuid()`))
    // By default, not always: a placement move copies a tenant's rows, these included, as they are.
    .addColumn('seq', 'bigint', (col) => col.notNull().generatedByDefaultAsIdentity())
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('entity_id', 'text', (col) => col.notNull())
    .addColumn('payload', 'jsonb', (col) => col.notNull().defaultTo(sql`'{}'::jsonb`))
    // The time of the insert, not of the transaction's start: taken under the tenant's outbox lock,
    // it orders a tenant's events as they commit, in this database and after a move to another.
    .addColumn('occurred_at', sql`timestamptz(6)`, (col) => col.notNull().defaultTo(sql`clock_timestamp()`))
    .addColumn('source', 'text', (col) => col.notNull().defaultTo(sql`current_database()`))
    .addColumn('sent_at', sql`timestamptz(3)`)
    .addPrimaryKeyConstraint('event_outbox_pkey', ['tenant_id', 'id'])
    .execute();
  // What the relay reads: the unsent rows, oldest first.
  await sql`create index event_outbox_unsent_idx on event_outbox (occurred_at, seq) where sent_at is null`.execute(db);
  await db.schema.createIndex('event_outbox_tenant_occurred_idx').on(OUTBOX_TABLE).columns(['tenant_id', 'occurred_at']).execute();
  for (const statement of tenantIsolationPolicy(OUTBOX_TABLE)) await statement.execute(db);
  await sql`create policy outbox_relay_read on event_outbox for select
              using (current_setting('app.outbox_relay', true) = 'on')`.execute(db);
}

/** The `down` of `createOutboxTable`. */
export async function dropOutboxTable(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable(OUTBOX_TABLE).execute();
}

/** The NOTIFY channel that wakes the relay when a transaction with events commits. */
export const OUTBOX_CHANNEL = 'event_outbox';

/**
 * Writes events to the outbox inside the caller's transaction (`trx`, from `withTenant`/`inTenant`):
 * they exist exactly when the change commits, and the relay publishes them after. Inside a
 * transaction the rows are written with its COMMIT, in the same round trip (`sendWithCommit`): a
 * failure to write them fails the commit, and a rollback never sends them. Call it last in the
 * transaction: it takes the tenant's outbox lock until commit, so one tenant's events commit in
 * the order of their `occurred_at`, which is the order the relay publishes them in.
 * @example await inTenant(async (trx) => { const row = await insertProduct(trx, tenantId, p); await recordEvent(trx, tenantId, { type: 'product.created', entityId: toGlobalId(tenantId, row.id) }); return row })
 */
export async function recordEvent<DB>(trx: Kysely<DB>, tenantId: string, events: NewEvent | readonly NewEvent[]): Promise<void> {
  const list = Array.isArray(events) ? events : [events as NewEvent];
  if (list.length === 0) return;
  if (!isTenantId(tenantId)) throw new TypeError('recordEvent needs a valid tenant id');
  const rows = list.map((event) => {
    const payload = event.payload ?? {};
    if (Buffer.byteLength(JSON.stringify(payload)) > MAX_PAYLOAD_BYTES)
      throw new RangeError(`the payload of ${event.type} is over ${MAX_PAYLOAD_BYTES} bytes`);
    return { tenant_id: tenantId, type: event.type, entity_id: event.entityId, payload };
  });
  // One statement: the lock is taken before any row is inserted (each row joins the locked CTE), so
  // every row's `occurred_at` is read under it. It travels with the transaction's COMMIT, in the
  // same round trip (and holds the lock only that long); the NOTIFY is delivered at commit, and
  // never for a rolled-back transaction.
  const compiled = sql`with locked as materialized (
      select pg_advisory_xact_lock(hashtextextended(${`outbox:${tenantId}`}, 0)), pg_notify(${OUTBOX_CHANNEL}, '')
    )
    insert into ${sql.table(OUTBOX_TABLE)} (tenant_id, type, entity_id, payload)
    select event.tenant_id, event.type, event.entity_id, event.payload
    from locked, rows from (
      jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as (tenant_id text, type text, entity_id text, payload jsonb)
    ) with ordinality as event(tenant_id, type, entity_id, payload, position)
    order by event.position`.compile(trx);
  sendWithCommit(compiled.queryId);
  await trx.executeQuery(compiled);
}
