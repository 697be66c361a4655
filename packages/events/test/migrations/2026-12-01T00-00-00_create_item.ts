import { type Kysely, sql } from 'kysely';
import { createOutboxTable, dropOutboxTable } from '../../src/outbox.ts';

// A room in miniature for the relay's tests: one tenant table and the outbox.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('item')
    .addColumn('tenant_id', 'text', (col) => col.notNull())
    .addColumn('id', 'uuid', (col) => col.notNull().defaultTo(sql`gen_random_uuid()`))
    .addColumn('name', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('item_pkey', ['tenant_id', 'id'])
    .execute();
  await sql`alter table item enable row level security`.execute(db);
  await sql`alter table item force row level security`.execute(db);
  await sql`create policy tenant_isolation on item
              using (tenant_id = current_setting('app.tenant_id', true))
              with check (tenant_id = current_setting('app.tenant_id', true))`.execute(db);
  await createOutboxTable(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await dropOutboxTable(db);
  await db.schema.dropTable('item').execute();
}
