import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('product')
    .addColumn('tenant_id', 'text', (col) => col.notNull())
    .addColumn('id', 'uuid', (col) => col.notNull().defaultTo(sql`gen_random_uuid()`))
    .addColumn('sku', 'text', (col) => col.notNull())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('price_cents', 'integer', (col) => col.notNull().check(sql`price_cents >= 0`))
    .addColumn('currency', 'text', (col) => col.notNull().check(sql`currency ~ '^[A-Z]{3}$'`))
    .addColumn('stock', 'integer', (col) => col.notNull().defaultTo(0).check(sql`stock >= 0`))
    // Millisecond precision: the value round-trips through a JavaScript Date into keyset cursors.
    .addColumn('created_at', sql`timestamptz(3)`, (col) => col.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('product_pkey', ['tenant_id', 'id'])
    .addUniqueConstraint('product_tenant_sku_key', ['tenant_id', 'sku'])
    .execute();
  await db.schema.createIndex('product_tenant_created_idx').on('product').columns(['tenant_id', 'created_at', 'id']).execute();

  await sql`alter table product enable row level security`.execute(db);
  await sql`alter table product force row level security`.execute(db);
  await sql`create policy tenant_isolation on product
              using (tenant_id = current_setting('app.tenant_id', true))
              with check (tenant_id = current_setting('app.tenant_id', true))`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('product').execute();
}
