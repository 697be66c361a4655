import pg from 'pg';

export { sql } from 'kysely';

export type AuditedTable = {
  table: string;
  enabled: boolean;
  forced: boolean;
  hasTenantId: boolean;
  policies: { name: string; command: string; using: string | null; check: string | null }[];
  /** Unique indexes (primary keys and unique constraints included) and whether they cover `tenant_id`. */
  uniques: { index: string; scoped: boolean }[];
};

export type RlsAudit = {
  tables: AuditedTable[];
  views: { view: string; kind: string; securityInvoker: boolean }[];
};

/**
 * The row-level security facts of one database's `public` schema, read from the catalog.
 * `adminUrl` must see the catalog fully (a superuser URL of that database).
 */
export async function auditRowLevelSecurity(adminUrl: string): Promise<RlsAudit> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows: tables } = await client.query(`
      select c.oid, c.relname as table, c.relrowsecurity as enabled, c.relforcerowsecurity as forced,
             exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped) as "hasTenantId"
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = 'public' and c.relkind in ('r', 'p') order by c.relname`);
    const audited: AuditedTable[] = [];
    for (const { oid, ...table } of tables) {
      const { rows: policies } = await client.query(
        `select polname as name, polcmd as command, pg_get_expr(polqual, polrelid) as using, pg_get_expr(polwithcheck, polrelid) as check
           from pg_policy where polrelid = $1 order by polname`,
        [oid],
      );
      const { rows: uniques } = await client.query(
        `select i.indexrelid::regclass::text as index,
                exists (select 1 from unnest(i.indkey) k join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k
                         where a.attname = 'tenant_id') as scoped
           from pg_index i where i.indrelid = $1 and i.indisunique order by 1`,
        [oid],
      );
      audited.push({ ...table, policies, uniques });
    }
    const { rows: views } = await client.query(`
      select c.relname as view, c.relkind as kind,
             coalesce(c.reloptions::text[] @> array['security_invoker=true'], false) as "securityInvoker"
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = 'public' and c.relkind in ('v', 'm')`);
    return { tables: audited, views };
  } finally {
    await client.end();
  }
}

export type RoleAudit = {
  role: string;
  superuser: boolean;
  bypassRls: boolean;
  createRole: boolean;
  createDb: boolean;
  /** Tables, views and sequences of `public` that the role owns or could act as owner of. */
  ownedRelations: number;
  ownsDatabase: boolean;
};

/** What the role behind `url` may do in its database: connects as that role. */
export async function auditConnectionRole(url: string): Promise<RoleAudit> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(`
      select r.rolname as role, r.rolsuper as superuser, r.rolbypassrls as "bypassRls",
             r.rolcreaterole as "createRole", r.rolcreatedb as "createDb",
             (select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
               where n.nspname = 'public' and pg_has_role(current_user, c.relowner, 'MEMBER'))::int as "ownedRelations",
             exists (select 1 from pg_database d where d.datname = current_database()
                      and pg_has_role(current_user, d.datdba, 'MEMBER')) as "ownsDatabase"
        from pg_roles r where r.rolname = current_user`);
    return rows[0];
  } finally {
    await client.end();
  }
}
