import { createRequire } from 'node:module';
import {
  CompiledQuery,
  type DatabaseConnection,
  PostgresQueryCompiler,
  type QueryId,
  type QueryResult,
  type RootOperationNode,
} from 'kysely';
import pg from 'pg';

// node-postgres' own conversion of a parameter to its text form (dates, arrays, buffers, JSON).
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as { prepareValue(value: unknown): string | Buffer | null };

/**
 * A parameter as the SQL literal PostgreSQL would have received it as: node-postgres' text form
 * of the value, quoted (`escapeLiteral` doubles quotes and backslashes and uses `E''` for the
 * latter, so it holds whatever `standard_conforming_strings` says). A quoted literal is of type
 * `unknown` until its context types it, exactly as an untyped parameter is, so the statement
 * means what it meant with parameters. NUL cannot be sent either way and is refused here.
 */
function sqlLiteral(value: unknown): string {
  const text = prepareValue(value);
  if (text === null || text === undefined) return 'null';
  const string = Buffer.isBuffer(text) ? `\\x${text.toString('hex')}` : String(text);
  if (string.includes('\u0000')) throw new TypeError('a SQL parameter cannot contain the NUL character');
  return pg.escapeLiteral(string);
}

/** How one statement of a `withTenant` unit is sent: behind the tenant's settings, or after opening its transaction. */
type Instruction = { inline: string } | { before: string };
const instructions = new WeakMap<QueryId, Instruction>();

/**
 * Marks the statement `queryId` to travel in one message behind `settings` (a plain read, its
 * parameters written in), or to follow `before` (the unit's `begin` and settings) on its connection.
 */
export function sendWith(queryId: QueryId, instruction: Instruction): void {
  instructions.set(queryId, instruction);
}

const patched = new WeakSet<DatabaseConnection>();

/**
 * A connection that sends a statement `sendWith` marked with `before` after that message (the
 * unit's `begin` and settings); every other statement unchanged. `onQuery` counts the extra message and its time.
 */
export function sendingWithTenant(connection: DatabaseConnection, onQuery?: (durationMs: number) => void): DatabaseConnection {
  if (patched.has(connection)) return connection;
  patched.add(connection);
  const execute = connection.executeQuery.bind(connection);
  connection.executeQuery = async <R>(compiled: CompiledQuery): Promise<QueryResult<R>> => {
    const instruction = instructions.get(compiled.queryId);
    if (!instruction || !('before' in instruction)) return execute(compiled);
    const start = performance.now();
    await execute(CompiledQuery.raw(instruction.before));
    onQuery?.(performance.now() - start);
    return execute(compiled);
  };
  return connection;
}

/**
 * Kysely's PostgreSQL compiler, which compiles a statement `sendWith` marked as a plain read with
 * its parameters written in as literals behind the tenant's settings: one simple-protocol message,
 * compiled once.
 */
export class TenantQueryCompiler extends PostgresQueryCompiler {
  #inline = false;

  override compileQuery(node: RootOperationNode, queryId: QueryId): CompiledQuery {
    const instruction = instructions.get(queryId);
    if (!instruction || !('inline' in instruction)) return super.compileQuery(node, queryId);
    this.#inline = true;
    try {
      const compiled = super.compileQuery(node, queryId);
      return { ...compiled, sql: `${instruction.inline}; ${compiled.sql}`, parameters: [] };
    } finally {
      this.#inline = false;
    }
  }

  protected override appendValue(parameter: unknown): void {
    if (this.#inline) this.append(sqlLiteral(parameter));
    else super.appendValue(parameter);
  }
}
