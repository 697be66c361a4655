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
