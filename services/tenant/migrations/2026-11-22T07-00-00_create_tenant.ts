import { type Kysely, sql } from 'kysely';

// The tenant registry: one row per tenant, read by every service to route its requests.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('tenant')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('slug', 'text', (col) => col.notNull().unique())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('plan', 'text', (col) => col.notNull().check(sql`plan in ('FREE', 'PRO', 'ENTERPRISE')`))
    .addColumn('placement', 'text', (col) => col.notNull().defaultTo('shared').check(sql`placement in ('shared', 'dedicated')`))
    .addColumn('status', 'text', (col) =>
      col.notNull().defaultTo('active').check(sql`status in ('active', 'provisioning', 'moving', 'deleting')`),
    )
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();

  // A request sees its own tenant's row; the registry listing is an explicit, read-only mode.
  await sql`alter table tenant enable row level security`.execute(db);
  await sql`alter table tenant force row level security`.execute(db);
  await sql`create policy tenant_isolation on tenant
              using (id = current_setting('app.tenant_id', true))
              with check (id = current_setting('app.tenant_id', true))`.execute(db);
  await sql`create policy registry_read on tenant for select
              using (current_setting('app.registry_read', true) = 'on')`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('tenant').execute();
}
