import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('organization')
    .addColumn('tenant_id', 'text', (col) => col.notNull())
    .addColumn('id', 'uuid', (col) => col.notNull().defaultTo(sql`gen_random_uuid()`))
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('subscription_tier', 'text', (col) => col.notNull())
    .addColumn('created_at', sql`timestamptz(3)`, (col) => col.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('organization_pkey', ['tenant_id', 'id'])
    .addUniqueConstraint('organization_tenant_name_key', ['tenant_id', 'name'])
    .execute();

  await db.schema
    .createTable('member')
    .addColumn('tenant_id', 'text', (col) => col.notNull())
    .addColumn('id', 'uuid', (col) => col.notNull().defaultTo(sql`gen_random_uuid()`))
    .addColumn('organization_id', 'uuid', (col) => col.notNull())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('email', 'text', (col) => col.notNull())
    .addColumn('created_at', sql`timestamptz(3)`, (col) => col.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('member_pkey', ['tenant_id', 'id'])
    .addForeignKeyConstraint('member_organization_fkey', ['tenant_id', 'organization_id'], 'organization', ['tenant_id', 'id'])
    // Also the index behind per-organization member counts.
    .addUniqueConstraint('member_tenant_organization_email_key', ['tenant_id', 'organization_id', 'email'])
    .execute();

  await db.schema
    .createTable('project')
    .addColumn('tenant_id', 'text', (col) => col.notNull())
    .addColumn('id', 'uuid', (col) => col.notNull().defaultTo(sql`gen_random_uuid()`))
    .addColumn('organization_id', 'uuid', (col) => col.notNull())
    .addColumn('name', 'text', (col) => col.notNull())
    // Millisecond precision: the value round-trips through a JavaScript Date into keyset cursors.
    .addColumn('created_at', sql`timestamptz(3)`, (col) => col.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('project_pkey', ['tenant_id', 'id'])
    .addForeignKeyConstraint('project_organization_fkey', ['tenant_id', 'organization_id'], 'organization', ['tenant_id', 'id'])
    // Also the index behind each organization's list of projects.
    .addUniqueConstraint('project_tenant_organization_name_key', ['tenant_id', 'organization_id', 'name'])
    .execute();
  await db.schema.createIndex('project_tenant_created_idx').on('project').columns(['tenant_id', 'created_at', 'id']).execute();

  await db.schema
    .createTable('task')
    .addColumn('tenant_id', 'text', (col) => col.notNull())
    .addColumn('id', 'uuid', (col) => col.notNull().defaultTo(sql`gen_random_uuid()`))
    .addColumn('project_id', 'uuid', (col) => col.notNull())
    .addColumn('title', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull().defaultTo('TODO').check(sql`status in ('TODO', 'DOING', 'DONE')`))
    .addColumn('created_at', sql`timestamptz(3)`, (col) => col.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('task_pkey', ['tenant_id', 'id'])
    .addForeignKeyConstraint('task_project_fkey', ['tenant_id', 'project_id'], 'project', ['tenant_id', 'id'])
    .execute();
  await db.schema.createIndex('task_tenant_project_idx').on('task').columns(['tenant_id', 'project_id']).execute();

  await sql`alter table organization enable row level security`.execute(db);
  await sql`alter table organization force row level security`.execute(db);
  await sql`create policy tenant_isolation on organization
              using (tenant_id = current_setting('app.tenant_id', true))
              with check (tenant_id = current_setting('app.tenant_id', true))`.execute(db);

  await sql`alter table member enable row level security`.execute(db);
  await sql`alter table member force row level security`.execute(db);
  await sql`create policy tenant_isolation on member
              using (tenant_id = current_setting('app.tenant_id', true))
              with check (tenant_id = current_setting('app.tenant_id', true))`.execute(db);

  await sql`alter table project enable row level security`.execute(db);
  await sql`alter table project force row level security`.execute(db);
  await sql`create policy tenant_isolation on project
              using (tenant_id = current_setting('app.tenant_id', true))
              with check (tenant_id = current_setting('app.tenant_id', true))`.execute(db);

  await sql`alter table task enable row level security`.execute(db);
  await sql`alter table task force row level security`.execute(db);
  await sql`create policy tenant_isolation on task
              using (tenant_id = current_setting('app.tenant_id', true))
              with check (tenant_id = current_setting('app.tenant_id', true))`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('task').execute();
  await db.schema.dropTable('project').execute();
  await db.schema.dropTable('member').execute();
  await db.schema.dropTable('organization').execute();
}
