import { type CompiledQuery, createQueryId, type Kysely, type RootOperationNode } from 'kysely';

/** What `reusableRead` builds: any Kysely query that compiles to a statement. */
type Compilable<O> = { compile(): CompiledQuery<O> };

/** Where a value sits in a call's arguments: argument index, then keys or indexes within it. */
type Path = (string | number)[];

/** A statement compiled once: its text and its operation node. */
type Statement = { sql: string; node: RootOperationNode };

/**
 * What is known of one shape of a read: where each parameter comes from (`slots`), the other
 * values of the arguments, on which the text may depend (`fixed`), and the statement for each of
 * their combinations.
 */
type Shape = { slots: Path[]; fixed: Path[]; statements: Map<string, Statement> };

/** Shapes, and statements per shape, remembered at most; past it the read starts over. */
const MAX_REMEMBERED = 32;

/**
 * A read that Kysely builds and compiles once, then sends with each call's values: building and
 * compiling a query costs a tenth of a subgraph's CPU on the dashboard, and its hot reads differ
 * only in their values. The read still runs through the Kysely it is given — its plugins see
 * each statement (`withTenant` sends it with its tenant), its driver, log and metrics — only the
 * statement's text is reused. A plugin that rewrites statements (none of ours does) is refused.
 *
 * The first call of each shape (which arguments, and which of their fields, are `undefined`; the
 * booleans' values) builds the statement and finds each of its parameters among the values of
 * the arguments (their fields and elements too): `build` must pass values through as they are
 * (no `limit + 1` or `new Date(at)` in it; a constant goes into the text with `sql.lit`), or it
 * throws, so a read that does not fails its first test. The values that are no parameter (a table
 * name, a flag) select a statement of their own. A parameter equal to two of the values is
 * ambiguous: that call is built and sent as Kysely would, and the next one tries again.
 *
 * @example
 * const productsByIds = reusableRead((db: Kysely<Database>, tenantId: string, ids: readonly string[]) =>
 *   db.selectFrom('product').selectAll().where('tenant_id', '=', tenantId).where('id', 'in', ids));
 * const rows = await productsByIds(trx, tenantId, ids);
 */
export function reusableRead<DB, A extends unknown[], O>(build: (db: Kysely<DB>, ...args: A) => Compilable<O>) {
  const shapes = new Map<string, Shape>();
  return async (db: Kysely<DB>, ...args: A): Promise<O[]> => {
    const executor = db.getExecutor();
    const shapeKey = args.map(shapeOf).join(',');
    const shape = shapes.get(shapeKey);
    const fixedKey = shape && JSON.stringify(shape.fixed.map((path) => valueAt(args, path)));
    const known = fixedKey !== undefined ? shape?.statements.get(fixedKey) : undefined;
    if (shape && known) {
      const queryId = createQueryId();
      // The plugins see the statement (the node holds the first call's values: they read its kind).
      const node = executor.transformQuery(known.node, queryId);
      if (node !== known.node) throw new Error('reusableRead: a plugin rewrote the statement, which would then be sent unchanged');
      const parameters = shape.slots.map((path) => valueAt(args, path));
      const { rows } = await executor.executeQuery<O>({ query: node, queryId, sql: known.sql, parameters });
      return rows;
    }
    const compiled = build(db, ...args).compile();
    remember(shapes, shapeKey, args, compiled);
    const { rows } = await executor.executeQuery(compiled);
    return rows;
  };
}

/** Notes a statement just compiled under its shape, unless one of its parameters is ambiguous. */
function remember(shapes: Map<string, Shape>, shapeKey: string, args: unknown[], compiled: CompiledQuery): void {
  const found = slotsOf(compiled.parameters, args);
  if (!found) return;
  let shape = shapes.get(shapeKey);
  // Other fixed values gave a statement whose parameters sit elsewhere: not reused.
  if (shape && JSON.stringify(shape.slots) !== JSON.stringify(found.slots)) return;
  if (!shape) {
    if (shapes.size >= MAX_REMEMBERED) shapes.clear();
    shape = { slots: found.slots, fixed: found.fixed, statements: new Map() };
    shapes.set(shapeKey, shape);
  }
  if (shape.statements.size >= MAX_REMEMBERED) shape.statements.clear();
  shape.statements.set(JSON.stringify(shape.fixed.map((path) => valueAt(args, path))), { sql: compiled.sql, node: compiled.query });
}

/** Which values are `undefined`, and the booleans: what may change a statement's parameters. */
function shapeOf(value: unknown): string {
  if (value === undefined) return 'u';
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (Array.isArray(value)) return 'a';
  if (!isRecord(value)) return 'v';
  let shape = '{';
  for (const key of Object.keys(value)) shape += `${key}:${shapeOf(value[key])},`;
  return `${shape}}`;
}

/** Every value in the arguments with its path: each argument, each field of a record, an array and each of its elements. */
function valuesOf(value: unknown, path: Path, into: { path: Path; value: unknown }[]) {
  into.push({ path, value });
  if (Array.isArray(value)) for (const [index, element] of value.entries()) valuesOf(element, [...path, index], into);
  else if (isRecord(value)) for (const key of Object.keys(value)) valuesOf(value[key], [...path, key], into);
  return into;
}

/**
 * Where each parameter is among the values of the arguments, and which other values the text
 * may depend on (neither a parameter, nor within one, nor holding one); undefined when a
 * parameter is two of the values. Throws when a parameter is none of them: `build` made it.
 */
function slotsOf(parameters: readonly unknown[], args: unknown[]): { slots: Path[]; fixed: Path[] } | undefined {
  const values = valuesOf(args, [], []).slice(1);
  const slots: Path[] = [];
  for (const parameter of parameters) {
    const matching = values.filter(({ value }) => sameValue(value, parameter));
    if (matching.length === 0) {
      throw new Error(
        `reusableRead: a parameter (${String(parameter)}) is none of the arguments; pass it as it is, or write a constant with sql.lit`,
      );
    }
    if (matching.length > 1) return undefined;
    slots.push(matching[0]!.path);
  }
  const within = (inner: Path, outer: Path) => outer.length <= inner.length && outer.every((key, index) => inner[index] === key);
  const fixed = values
    .filter(({ path }) => !slots.some((slot) => within(path, slot) || within(slot, path)))
    .filter(({ value }) => !Array.isArray(value) && !isRecord(value))
    .map(({ path }) => path);
  return { slots, fixed };
}

function valueAt(args: unknown[], path: Path): unknown {
  let value: unknown = args;
  for (const key of path) value = (value as Record<string | number, unknown>)[key];
  return value;
}

/** The same value: the same primitive or object, or arrays of the same values (an `in` list is one array parameter). */
function sameValue(value: unknown, parameter: unknown): boolean {
  if (value === parameter) return true;
  if (!Array.isArray(value) || !Array.isArray(parameter) || value.length !== parameter.length) return false;
  return value.every((element, index) => element === parameter[index]);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
