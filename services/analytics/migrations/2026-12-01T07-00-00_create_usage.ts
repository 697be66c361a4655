import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Each domain event recorded once: a redelivery finds its id here and changes nothing.
  await db.schema
    .createTable('recorded_event')
    .addColumn('tenant_id', 'text', (col) => col.notNull())
    .addColumn('event_id', 'uuid', (col) => col.notNull())
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('occurred_at', sql`timestamptz(3)`, (col) => col.notNull())
    .addColumn('recorded_at', sql`timestamptz(3)`, (col) => col.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('recorded_event_pkey', ['tenant_id', 'event_id'])
    .execute();
  // The counts `Tenant.usage` answers from, one row per tenant and event type.
  await db.schema
    .createTable('event_count')
    .addColumn('tenant_id', 'text', (col) => col.notNull())
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('count', 'bigint', (col) => col.notNull().defaultTo(0))
    .addColumn('last_event_at', sql`timestamptz(3)`, (col) => col.notNull())
    .addPrimaryKeyConstraint('event_count_pkey', ['tenant_id', 'type'])
    .execute();
  for (const table of ['recorded_event', 'event_count']) {
    await sql`alter table ${sql.id(table)} enable row level security`.execute(db);
    await sql`alter table ${sql.id(table)} force row level security`.execute(db);
    await sql`create policy tenant_isolation on ${sql.id(table)}
                using (tenant_id = current_setting('app.tenant_id', true))
                with check (tenant_id = current_setting('app.tenant_id', true))`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('event_count').execute();
  await db.schema.dropTable('recorded_event').execute();
}
