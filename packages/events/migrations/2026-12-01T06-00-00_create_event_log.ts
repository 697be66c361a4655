import { type Kysely, sql } from 'kysely';

// The events database of the PostgreSQL transport (`events_db`): the log every relay appends to,
// and where each durable consumer stands in it.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('event_log')
    .addColumn('seq', 'bigint', (col) => col.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('id', 'uuid', (col) => col.notNull())
    // 0 for the event as published; each replay appends a copy with the next number.
    .addColumn('redelivery', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('tenant_id', 'text', (col) => col.notNull())
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('entity_id', 'text', (col) => col.notNull())
    .addColumn('payload', 'jsonb', (col) => col.notNull())
    .addColumn('occurred_at', sql`timestamptz(3)`, (col) => col.notNull())
    .addColumn('source', 'text', (col) => col.notNull())
    .addColumn('published_at', sql`timestamptz(3)`, (col) => col.notNull().defaultTo(sql`now()`))
    // A republished event (same id) is dropped here.
    .addUniqueConstraint('event_log_id_redelivery_key', ['id', 'redelivery'])
    .execute();
  await db.schema.createIndex('event_log_tenant_seq_idx').on('event_log').columns(['tenant_id', 'seq']).execute();
  await db.schema.createIndex('event_log_tenant_occurred_idx').on('event_log').columns(['tenant_id', 'occurred_at']).execute();

  await db.schema
    .createTable('consumer_offset')
    .addColumn('name', 'text', (col) => col.primaryKey())
    .addColumn('position', 'bigint', (col) => col.notNull().defaultTo(0))
    .addColumn('updated_at', sql`timestamptz(3)`, (col) => col.notNull().defaultTo(sql`now()`))
    .execute();

  // One notification per appending statement wakes every listener (consumers, subscriptions).
  await sql`create function event_log_notify() returns trigger language plpgsql as $$
              begin perform pg_notify('event_log', ''); return null; end $$`.execute(db);
  await sql`create trigger event_log_notify after insert on event_log
              for each statement execute function event_log_notify()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('consumer_offset').execute();
  await db.schema.dropTable('event_log').execute();
  await sql`drop function event_log_notify()`.execute(db);
}
