import { type Kysely, sql } from 'kysely';
import { readOnly, snapshotReads, withTenant } from './tenant-scope.ts';

/** Rows per table. */
export type RowCounts = Record<string, number>;

/**
 * The tenant-owned tables of a database (those with a `tenant_id` column), parents before
 * children: the order to insert a tenant's rows in; reversed, the order to delete them in.
 */
export async function tenantOwnedTables(db: Kysely<unknown>): Promise<string[]> {
  const { rows: tables } = await sql<{ name: string }>`
    select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'public' and c.relkind = 'r'
       and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)
     order by c.relname`.execute(db);
  const { rows: edges } = await sql<{ child: string; parent: string }>`
    select child.relname as child, parent.relname as parent from pg_constraint k
      join pg_class child on child.oid = k.conrelid join pg_class parent on parent.oid = k.confrelid
     where k.contype = 'f' and k.connamespace = 'public'::regnamespace and k.conrelid <> k.confrelid`.execute(db);
  const names = tables.map((table) => table.name);
  const ordered: string[] = [];
  const visit = (name: string, path: string[]) => {
    if (ordered.includes(name)) return;
    if (path.includes(name)) throw new Error(`foreign keys form a cycle: ${[...path, name].join(' -> ')}`);
    for (const edge of edges) if (edge.child === name && names.includes(edge.parent)) visit(edge.parent, [...path, name]);
    ordered.push(name);
  };
  for (const name of names) visit(name, []);
  return ordered;
}

async function countIn(trx: Kysely<unknown>, tenantId: string, tables: string[]): Promise<RowCounts> {
  const counts: RowCounts = {};
  for (const table of tables) {
    const { rows } = await sql<{ count: number }>`select count(*) as count from ${sql.table(table)} where tenant_id = ${tenantId}`.execute(
      trx,
    );
    counts[table] = Number(rows[0]?.count ?? 0);
  }
  return counts;
}

/** A tenant's rows per table of `tables`, read in one read-only transaction bound to the tenant. */
export function countTenantRows(db: Kysely<unknown>, tenantId: string, tables: string[]): Promise<RowCounts> {
  return withTenant(readOnly(db), tenantId, (trx) => countIn(trx, tenantId, tables));
}

/** The tables whose counts differ, as `table source vs target`, joined for a message. */
export const describeCountDifferences = (tables: string[], expected: RowCounts, actual: RowCounts) =>
  tables
    .filter((table) => expected[table] !== actual[table])
    .map((table) => `${table} ${expected[table]} vs ${actual[table]}`)
    .join(', ');

const BATCH = 500;

/**
 * Copies a tenant's rows from `source` to `target` (two databases of one service, same
 * migrations). The source is read in one repeatable-read snapshot; the target is written in one
 * transaction (rows an earlier attempt left removed first, then every table in foreign-key
 * order) that commits only when each table's count equals the snapshot's. Rows travel as JSON,
 * so every value keeps its exact database form (timestamps to the microsecond). Both sides run
 * through `withTenant`: row-level security holds the copy to this tenant.
 */
export async function copyTenantRows(source: Kysely<unknown>, target: Kysely<unknown>, tenantId: string): Promise<RowCounts> {
  const tables = await tenantOwnedTables(target);
  return withTenant(snapshotReads(source), tenantId, (from) =>
    withTenant(target, tenantId, async (to) => {
      for (const table of [...tables].reverse()) await sql`delete from ${sql.table(table)} where tenant_id = ${tenantId}`.execute(to);
      for (const table of tables) {
        for (let offset = 0; ; offset += BATCH) {
          const { rows } = await sql<{ row: unknown }>`
            select row_to_json(t) as row from ${sql.table(table)} t where tenant_id = ${tenantId}
             order by ctid limit ${sql.lit(BATCH)} offset ${sql.lit(offset)}`.execute(from);
          if (rows.length === 0) break;
          const json = JSON.stringify(rows.map((row) => row.row));
          await sql`insert into ${sql.table(table)} select * from json_populate_recordset(null::${sql.table(table)}, ${json}::json)`.execute(
            to,
          );
          if (rows.length < BATCH) break;
        }
      }
      const expected = await countIn(from, tenantId, tables);
      const copied = await countIn(to, tenantId, tables);
      const wrong = describeCountDifferences(tables, expected, copied);
      if (wrong) throw new Error(`row counts differ after copying: ${wrong}`);
      return copied;
    }),
  );
}

/** Deletes a tenant's rows of every tenant-owned table, children first, in one transaction; returns what was removed. */
export async function deleteTenantRows(db: Kysely<unknown>, tenantId: string): Promise<RowCounts> {
  const tables = await tenantOwnedTables(db);
  return withTenant(db, tenantId, async (trx) => {
    const removed: RowCounts = {};
    for (const table of [...tables].reverse()) {
      const result = await sql`delete from ${sql.table(table)} where tenant_id = ${tenantId}`.execute(trx);
      removed[table] = Number(result.numAffectedRows ?? 0);
    }
    return removed;
  });
}
