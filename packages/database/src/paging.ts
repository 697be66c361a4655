import { type Kysely, type Selectable, type SelectQueryBuilder, sql } from 'kysely';

/**
 * A page in `(created_at, id)` order: its size, the key of the last row already seen, and
 * whether each row also carries the count of the whole list (`total_count`, see `pagedConnection`).
 */
export type CreatedAtPage = { limit: number; after?: [createdAt: string, id: string]; withTotal?: boolean };

/**
 * Keyset paging in `(created_at, id)` order, for `query.$call(...)`: the rows after `page.after`,
 * `page.limit + 1` of them, so that the extra row tells whether more follow. The table needs
 * `created_at` and `id` columns (and an index starting `tenant_id, created_at, id`).
 * @example db.selectFrom('product').selectAll().where('tenant_id', '=', tenantId).$call(createdAtKeyset(page)).execute()
 */
export function createdAtKeyset(page: CreatedAtPage) {
  return <DB, TB extends keyof DB, O>(query: SelectQueryBuilder<DB, TB, O>): SelectQueryBuilder<DB, TB, O> => {
    // The page's own values as parameters, the arithmetic and the timestamp's parsing in SQL: a `reusableRead` can reuse the text.
    const paged = page.after
      ? query.where(sql<boolean>`(${sql.ref('created_at')}, ${sql.ref('id')}) > (${page.after[0]}::timestamptz, ${page.after[1]})`)
      : query;
    return paged.orderBy(sql.ref('created_at')).orderBy(sql.ref('id')).limit(sql<number>`${page.limit} + 1`);
  };
}

/** One page of rows whose cursor is a row id: at most `limit`, after the row whose id is `after`. */
export type ChildPage = { limit: number; after?: string | undefined };

/**
 * The keyset condition "after the row whose id is `afterId`" in `(key, id)` order, for cursors
 * that are row ids: the cursor row's key is read in the same statement. A cursor naming no row
 * of the tenant matches nothing.
 * @example db.selectFrom('organization').selectAll().where(afterRowWithId('organization', tenantId, page.after, 'name'))
 */
export function afterRowWithId(table: string, tenantId: string, afterId: string, key: string) {
  return sql<boolean>`(${sql.ref(key)}, ${sql.ref('id')}) > (
    select ${sql.ref(`after_row.${key}`)}, after_row.id from ${sql.table(table)} after_row where after_row.tenant_id = ${tenantId} and after_row.id = ${afterId})`;
}

/**
 * The statement of one page of the children of several parents, in `(created_at, id)` order:
 * each parent's oldest first, at most `page.limit` of each (ranked per parent with
 * `row_number() over (partition by <parent>)`), after the child whose id is `page.after`.
 * For a per-request loader of nested lists (server-kit's `pagedGroupLoader`). With `children`,
 * each row also carries, as `children.as`, the number of the tenant's rows of `children.table`
 * whose `children.column` is its id: a count per row in the same statement.
 * @example createdAtPagePerParent(db, 'task', { column: 'project_id', ids: projectIds }, tenantId, { limit: 20 }).execute()
 */
export function createdAtPagePerParent<DB, T extends keyof DB & string>(
  db: Kysely<DB>,
  table: T,
  parent: { column: keyof DB[T] & string; ids: readonly string[] },
  tenantId: string,
  page: ChildPage,
  children?: { table: keyof DB & string; column: string; as: string },
): SelectQueryBuilder<DB, T, Selectable<DB[T]>> {
  // The table is a parameter: Kysely cannot type a query over any one of DB's tables, the signature does.
  const untyped = db as unknown as Kysely<any>;
  const parentColumn: string = parent.column;
  let ranked = untyped
    .selectFrom(table)
    .selectAll()
    .select(sql<number>`row_number() over (partition by ${sql.ref(parentColumn)} order by created_at, id)`.as('position'))
    .where('tenant_id', '=', tenantId)
    .where(parentColumn, 'in', parent.ids);
  if (page.after) ranked = ranked.where(afterRowWithId(table, tenantId, page.after, 'created_at'));
  let paged = untyped.selectFrom(ranked.as('ranked')).selectAll().where('position', '<=', page.limit);
  if (children) {
    const count = sql<number>`(select count(*) from ${sql.table(children.table)} child
      where child.tenant_id = ${tenantId} and ${sql.ref(`child.${children.column}`)} = ranked.id)`;
    paged = paged.select(count.as(children.as));
  }
  return paged.orderBy('created_at').orderBy('id') as unknown as SelectQueryBuilder<DB, T, Selectable<DB[T]>>;
}
