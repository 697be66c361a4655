import type { ChildPage } from '@tenantgraph/database';
import DataLoader from 'dataloader';

/**
 * A per-request loader of one row per key: `fetch` gets every key asked for in one tick and
 * runs one statement for all of them.
 * @example const productById = rowLoader((ids) => findProductsByIds(trx, tenantId, ids), (row) => row.id)
 */
export function rowLoader<K, Row>(fetch: (keys: readonly K[]) => Promise<Row[]>, keyOf: (row: Row) => K) {
  return new DataLoader<K, Row | undefined>(async (keys) => {
    const rows = await fetch(keys);
    const byKey = new Map(rows.map((row) => [keyOf(row), row]));
    return keys.map((key) => byKey.get(key));
  });
}

/** A per-request loader of the rows under each key (one-to-many), one statement per batch. */
export function groupLoader<K, Row>(fetch: (keys: readonly K[]) => Promise<Row[]>, keyOf: (row: Row) => K) {
  return new DataLoader<K, Row[]>(async (keys) => {
    const rows = await fetch(keys);
    const byKey = new Map<K, Row[]>();
    for (const row of rows) {
      const key = keyOf(row);
      const group = byKey.get(key);
      if (group) group.push(row);
      else byKey.set(key, [row]);
    }
    return keys.map((key) => byKey.get(key) ?? []);
  });
}

/** A per-request loader of one number per key (counts, sums); missing keys are 0. */
export function countLoader<K>(fetch: (keys: readonly K[]) => Promise<{ key: K; count: number }[]>) {
  return new DataLoader<K, number>(async (keys) => {
    const rows = await fetch(keys);
    const byKey = new Map(rows.map((row) => [row.key, Number(row.count)]));
    return keys.map((key) => byKey.get(key) ?? 0);
  });
}

/**
 * A per-request loader of one page of rows under each parent (`first`/`after` on a nested list):
 * every parent asked for in one tick with the same page is fetched by one statement (the
 * repository ranks rows per parent, e.g. `row_number() over (partition by parent)`), so a
 * paged nested list costs what an unpaged one did.
 * @example tasksByProjectId.load({ key: projectId, limit: 20 })
 */
export function pagedGroupLoader<K, Row>(fetch: (keys: readonly K[], page: ChildPage) => Promise<Row[]>, keyOf: (row: Row) => K) {
  return new DataLoader<ChildPage & { key: K }, Row[], string>(
    async (requests) => {
      // Parents asked with different pages (rare: aliases) are fetched by one statement per page.
      const byPage = new Map<string, { page: ChildPage; keys: K[] }>();
      for (const { key, limit, after } of requests) {
        const id = `${limit}:${after ?? ''}`;
        const group = byPage.get(id);
        if (group) group.keys.push(key);
        else byPage.set(id, { page: { limit, after }, keys: [key] });
      }
      const results = new Map<string, Map<K, Row[]>>();
      await Promise.all(
        [...byPage].map(async ([id, { page, keys }]) => {
          const byKey = new Map<K, Row[]>();
          for (const row of await fetch(keys, page)) {
            const key = keyOf(row);
            const group = byKey.get(key);
            if (group) group.push(row);
            else byKey.set(key, [row]);
          }
          results.set(id, byKey);
        }),
      );
      return requests.map(({ key, limit, after }) => results.get(`${limit}:${after ?? ''}`)?.get(key) ?? []);
    },
    { cacheKeyFn: ({ key, limit, after }) => `${String(key)}\u0000${limit}\u0000${after ?? ''}` },
  );
}
