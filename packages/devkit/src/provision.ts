import { connect, migrateToLatest, withDatabaseName } from '@tenantgraph/database';
import pg from 'pg';

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;
const quoteLiteral = (value: string) => `'${value.replaceAll("'", "''")}'`;

/**
 * Creates, if missing, a login role and a database, using a superuser connection. The login
 * role is neither superuser nor BYPASSRLS, so row-level security applies to it.
 *
 * Without `owner` the login role owns the database (and, migrating as itself, its tables). With
 * `owner`, a NOLOGIN role of that name owns the database instead: migrate with
 * `migrateAsOwner`, which leaves the login role only the privileges to read and write rows.
 */
export async function ensureDatabase(
  adminUrl: string,
  database: string,
  role: { name: string; password: string },
  { owner }: { owner?: string } = {},
) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const roleExists = await client.query('select 1 from pg_roles where rolname = $1', [role.name]);
    if (roleExists.rowCount === 0) {
      await client
        .query(`create role ${quoteIdent(role.name)} login nosuperuser nobypassrls nocreaterole password ${quoteLiteral(role.password)}`)
        .catch(ignoreDuplicate);
    }
    if (owner) {
      const ownerExists = await client.query('select 1 from pg_roles where rolname = $1', [owner]);
      if (ownerExists.rowCount === 0) {
        await client.query(`create role ${quoteIdent(owner)} nologin nosuperuser nobypassrls nocreaterole`).catch(ignoreDuplicate);
      }
    }
    const dbExists = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (dbExists.rowCount === 0) {
      await client.query(`create database ${quoteIdent(database)} owner ${quoteIdent(owner ?? role.name)}`).catch(ignoreDuplicate);
    } else if (owner) {
      // A database made before the owner/login split: hand it to the owner.
      await client.query(`alter database ${quoteIdent(database)} owner to ${quoteIdent(owner)}`);
    }
    if (owner) {
      await client.query(`revoke all on database ${quoteIdent(database)} from public`);
      await client.query(`grant connect, temporary on database ${quoteIdent(database)} to ${quoteIdent(role.name)}`);
    }
  } finally {
    await client.end();
  }
}

/**
 * A superuser URL of `database` whose sessions act as `owner` (`SET ROLE` at connection start),
 * so that what migrations create belongs to the owner role, which cannot log in by itself.
 */
export function ownerUrl(adminUrl: string, database: string, owner: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  url.searchParams.set('options', `-c role=${owner}`);
  return url.toString();
}

/**
 * Gives a service's login role what serving requests needs in `database`, and nothing more:
 * rows of every table of `public` (now and, through default privileges, those the owner
 * creates later) and its sequences. Not the tables themselves: the login role cannot alter,
 * drop or disable row-level security on them, since only an owner can.
 */
export async function grantAppRole(adminUrl: string, database: string, owner: string, app: string) {
  const client = new pg.Client({ connectionString: withDatabaseName(adminUrl, database) });
  await client.connect();
  try {
    const [o, a] = [quoteIdent(owner), quoteIdent(app)];
    await client.query(`revoke create on schema public from public`);
    await client.query(`revoke create on schema public from ${a}`);
    await client.query(`grant usage on schema public to ${a}`);
    await client.query(`grant select, insert, update, delete on all tables in schema public to ${a}`);
    await client.query(`grant usage, select on all sequences in schema public to ${a}`);
    await client.query(`alter default privileges for role ${o} in schema public grant select, insert, update, delete on tables to ${a}`);
    await client.query(`alter default privileges for role ${o} in schema public grant usage, select on sequences to ${a}`);
  } finally {
    await client.end();
  }
}

/**
 * Migrates `database` as its owner role, then grants the login role its row privileges.
 * @example await migrateAsOwner(adminUrl, 'product_db', { owner: 'product_owner', app: 'product_svc' }, migrationsFolder)
 */
export async function migrateAsOwner(adminUrl: string, database: string, roles: { owner: string; app: string }, folder: string) {
  const client = new pg.Client({ connectionString: withDatabaseName(adminUrl, database) });
  await client.connect();
  try {
    // Before migrating: tables an older install's login role owns must be the owner's to alter.
    await client.query(`reassign owned by ${quoteIdent(roles.app)} to ${quoteIdent(roles.owner)}`);
  } finally {
    await client.end();
  }
  const db = connect(ownerUrl(adminUrl, database, roles.owner), { max: 1 });
  try {
    return await migrateToLatest(db, folder);
  } finally {
    await db.destroy();
    // Also after a failed migration: the login role must still read what was applied.
    await grantAppRole(adminUrl, database, roles.owner, roles.app);
  }
}

/** Drops a database (and ends its sessions), if it exists. */
export async function dropDatabase(adminUrl: string, database: string) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists ${quoteIdent(database)} with (force)`);
  } finally {
    await client.end();
  }
}

/** A URL for `role` on the server and database of `adminUrl`. */
export function urlFor(adminUrl: string, database: string, role: { name: string; password: string }) {
  const url = new URL(adminUrl);
  url.username = encodeURIComponent(role.name);
  url.password = encodeURIComponent(role.password);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

// Two processes provisioning at once: the loser's "already exists" is success.
function ignoreDuplicate(error: { code?: string }) {
  if (error.code !== '42710' && error.code !== '42P04' && error.code !== '23505') throw error;
}
