import pg from 'pg';

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;
const quoteLiteral = (value: string) => `'${value.replaceAll("'", "''")}'`;

/**
 * Creates, if missing, a login role and a database it owns, using a superuser connection.
 * The role is neither superuser nor BYPASSRLS, so row-level security applies to it.
 */
export async function ensureDatabase(adminUrl: string, database: string, role: { name: string; password: string }) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const roleExists = await client.query('select 1 from pg_roles where rolname = $1', [role.name]);
    if (roleExists.rowCount === 0) {
      await client
        .query(
          `create role ${quoteIdent(role.name)} login nosuperuser nobypassrls nocreaterole password ${quoteLiteral(role.password)}`,
        )
        .catch(ignoreDuplicate);
    }
    const dbExists = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (dbExists.rowCount === 0) {
      await client
        .query(`create database ${quoteIdent(database)} owner ${quoteIdent(role.name)}`)
        .catch(ignoreDuplicate);
    }
  } finally {
    await client.end();
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
