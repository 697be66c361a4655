import { type SelectQueryBuilder, sql } from 'kysely';

/** A page in `(created_at, id)` order: its size, and the key of the last row already seen. */
export type CreatedAtPage = { limit: number; after?: [createdAt: string, id: string] };

/**
 * Keyset paging in `(created_at, id)` order, for `query.$call(...)`: the rows after `page.after`,
 * `page.limit + 1` of them, so that the extra row tells whether more follow. The table needs
 * `created_at` and `id` columns (and an index starting `tenant_id, created_at, id`).
 * @example db.selectFrom('product').selectAll().where('tenant_id', '=', tenantId).$call(createdAtKeyset(page)).execute()
 */
export function createdAtKeyset(page: CreatedAtPage) {
  return <DB, TB extends keyof DB, O>(query: SelectQueryBuilder<DB, TB, O>): SelectQueryBuilder<DB, TB, O> => {
    const [createdAt, id] = page.after ?? [];
    const paged =
      createdAt === undefined
        ? query
        : query.where(sql<boolean>`(${sql.ref('created_at')}, ${sql.ref('id')}) > (${new Date(createdAt)}, ${id})`);
    return paged
      .orderBy(sql.ref('created_at'))
      .orderBy(sql.ref('id'))
      .limit(page.limit + 1);
  };
}
