import { badUserInput } from './errors.ts';

export const MAX_PAGE_SIZE = 100;

export type PageInfo = { hasNextPage: boolean; endCursor: string | null };
export type Connection<T> = { nodes: T[]; pageInfo: PageInfo; totalCount?: number };

/** Validates `first` (0..100). */
export function pageSize(first: number | null | undefined, fallback = 20): number {
  const size = first ?? fallback;
  if (!Number.isInteger(size) || size < 0 || size > MAX_PAGE_SIZE) {
    throw badUserInput(`"first" must be between 0 and ${MAX_PAGE_SIZE}.`, 'first');
  }
  return size;
}

/** An opaque keyset cursor: the sort key of the last row of a page. */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** Reads a cursor made by `encodeCursor`; `shape` lists the type of each key part. */
export function decodeCursor<T extends (string | number)[]>(
  cursor: string | null | undefined,
  shape: { [K in keyof T]: T[K] extends number ? 'number' : 'string' },
): T | undefined {
  if (cursor == null) return undefined;
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(key) && key.length === shape.length && key.every((part, i) => typeof part === shape[i])) {
      return key as T;
    }
  } catch {
    // fall through to the error below
  }
  throw badUserInput('"after" is not a cursor returned by this field.', 'after');
}

/**
 * Builds a connection from rows fetched with `limit + 1`: the extra row only tells
 * whether there is a next page.
 */
export function toConnection<Row, Node>(
  rows: Row[],
  limit: number,
  toNode: (row: Row) => Node,
  cursorOf: (row: Row) => readonly (string | number)[],
): Connection<Node> {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    nodes: page.map(toNode),
    pageInfo: { hasNextPage: rows.length > limit, endCursor: last ? encodeCursor(cursorOf(last)) : null },
  };
}
