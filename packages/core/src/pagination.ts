import { type GraphQLResolveInfo, Kind, type SelectionSetNode } from 'graphql';
import { badUserInput } from './errors.ts';
import { localIdOf } from './ids.ts';

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

/** The default length of a plain (not connection) list that takes `first`/`after`. */
export const DEFAULT_LIST_SIZE = 20;

/**
 * `first`/`after` of a plain list (`organizations`, `Organization.projects`, `Project.tasks`):
 * `first` is 0..100 (default 20), `after` the id of the last item the client already has. An
 * id of another tenant is FORBIDDEN; anything that is not an id, BAD_USER_INPUT.
 * @example const page = listPage(args, context.tenantId, 'project') // { limit: 20, after: '6f1c…' }
 */
export function listPage(
  args: { first?: number | null; after?: string | null },
  tenantId: string,
  what: string,
): { limit: number; after: string | undefined } {
  const limit = pageSize(args.first, DEFAULT_LIST_SIZE);
  if (args.after == null) return { limit, after: undefined };
  const after = localIdOf(args.after, tenantId, what);
  if (!after) throw badUserInput(`"after" must be the id of a ${what} of this list.`, 'after');
  return { limit, after };
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

/** A connection whose `totalCount` runs its statement only when the field is asked for. */
export type LazyCountConnection<T> = Omit<Connection<T>, 'totalCount'> & { totalCount(): Promise<number> };

/** A row of a first page fetched with its total (`withTotal`): every row carries the count of the whole list. */
export type CountedRow<Row> = Row & { total_count?: number | null };

/**
 * One keyset-paged connection field, the same way everywhere: `first` is checked, then `after`
 * (a cursor of `cursor`'s shape), then `limit + 1` rows are fetched after it. `totalCount`
 * costs nothing unless selected; on a first page it is read by the page's own statement
 * (`fetch` gets `withTotal` and puts the count in each row's `total_count`), after a cursor
 * by `count`.
 * @example
 * products: (_, args, { tenantId, inTenant }, info) => pagedConnection(args, info, {
 *   cursor: ['string', 'string'],
 *   fetch: (limit, after, withTotal) => inTenant((trx) => findProducts(trx, tenantId, { limit, after, withTotal })),
 *   count: () => inTenant((trx) => countProducts(trx, tenantId)),
 *   toNode: productRowToProduct,
 *   cursorOf: (row) => [row.created_at.toISOString(), row.id],
 * })
 */
export async function pagedConnection<Row, Node, const S extends readonly ('string' | 'number')[]>(
  args: { first?: number | null; after?: string | null },
  info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments'>,
  field: {
    cursor: S;
    fetch(limit: number, after: CursorKey<S> | undefined, withTotal: boolean): Promise<CountedRow<Row>[]>;
    count(): Promise<number>;
    toNode(row: Row): Node;
    cursorOf(row: Row): CursorKey<S>;
  },
): Promise<LazyCountConnection<Node>> {
  const limit = pageSize(args.first);
  const after = decodeCursor(args.after, field.cursor as never) as CursorKey<S> | undefined;
  const withTotal = after === undefined && selectsField(info, 'totalCount');
  const rows = await field.fetch(limit, after, withTotal);
  // A first page with no row: the list is empty.
  const total = withTotal ? (rows[0]?.total_count ?? 0) : undefined;
  return { ...toConnection(rows, limit, field.toNode, field.cursorOf), totalCount: total === undefined ? field.count : async () => total };
}

/** Whether the field being resolved selects `name` among its own fields, directly or through fragments. */
export function selectsField(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments'>, name: string): boolean {
  const inSet = (set: SelectionSetNode | undefined): boolean =>
    set?.selections.some((selection) => {
      if (selection.kind === Kind.FIELD) return selection.name.value === name;
      if (selection.kind === Kind.INLINE_FRAGMENT) return inSet(selection.selectionSet);
      return inSet(info.fragments[selection.name.value]?.selectionSet);
    }) ?? false;
  return info.fieldNodes.some((node) => inSet(node.selectionSet));
}

/** The key a cursor of this shape holds: `['string', 'string']` → `[string, string]`. */
type CursorKey<S extends readonly ('string' | 'number')[]> = { -readonly [I in keyof S]: S[I] extends 'number' ? number : string };
