import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('sales_order')
    .addColumn('tenant_id', 'text', (col) => col.notNull())
    .addColumn('id', 'uuid', (col) => col.notNull().defaultTo(sql`gen_random_uuid()`))
    .addColumn('number', 'integer', (col) => col.notNull().check(sql`number >= 1`))
    .addColumn('status', 'text', (col) => col.notNull().defaultTo('PLACED').check(sql`status in ('PLACED', 'CANCELLED')`))
    .addColumn('currency', 'text', (col) => col.notNull().check(sql`currency ~ '^[A-Z]{3}$'`))
    // integer, not bigint: the API's totalCents is a GraphQL Int, so a larger total is refused before insert.
    .addColumn('total_cents', 'integer', (col) => col.notNull().check(sql`total_cents >= 0`))
    // Millisecond precision: the value round-trips through a JavaScript Date.
    .addColumn('placed_at', sql`timestamptz(3)`, (col) => col.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('sales_order_pkey', ['tenant_id', 'id'])
    .addUniqueConstraint('sales_order_tenant_number_key', ['tenant_id', 'number'])
    .execute();
  // The unique constraint's index on (tenant_id, number) also serves the newest-first listing.
  await db.schema
    .createIndex('sales_order_tenant_status_number_idx')
    .on('sales_order')
    .columns(['tenant_id', 'status', 'number'])
    .execute();

  await db.schema
    .createTable('sales_order_line')
    .addColumn('tenant_id', 'text', (col) => col.notNull())
    .addColumn('order_id', 'uuid', (col) => col.notNull())
    .addColumn('line_no', 'integer', (col) => col.notNull().check(sql`line_no >= 1`))
    // The product subgraph's row id: its rows live in another service's database, so no foreign key.
    .addColumn('product_id', 'uuid', (col) => col.notNull())
    .addColumn('quantity', 'integer', (col) => col.notNull().check(sql`quantity >= 1`))
    .addColumn('unit_price_cents', 'integer', (col) => col.notNull().check(sql`unit_price_cents >= 0`))
    .addPrimaryKeyConstraint('sales_order_line_pkey', ['tenant_id', 'order_id', 'line_no'])
    .addForeignKeyConstraint('sales_order_line_order_fkey', ['tenant_id', 'order_id'], 'sales_order', ['tenant_id', 'id'], (fk) =>
      fk.onDelete('cascade'),
    )
    .execute();
  await db.schema.createIndex('sales_order_line_tenant_product_idx').on('sales_order_line').columns(['tenant_id', 'product_id']).execute();

  await db.schema
    .createTable('order_number_counter')
    .addColumn('tenant_id', 'text', (col) => col.primaryKey())
    .addColumn('last_number', 'integer', (col) => col.notNull().check(sql`last_number >= 1`))
    .execute();

  for (const table of ['sales_order', 'sales_order_line', 'order_number_counter']) {
    await sql`alter table ${sql.id(table)} enable row level security`.execute(db);
    await sql`alter table ${sql.id(table)} force row level security`.execute(db);
    await sql`create policy tenant_isolation on ${sql.id(table)}
                using (tenant_id = current_setting('app.tenant_id', true))
                with check (tenant_id = current_setting('app.tenant_id', true))`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('order_number_counter').execute();
  await db.schema.dropTable('sales_order_line').execute();
  await db.schema.dropTable('sales_order').execute();
}
