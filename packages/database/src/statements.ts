import { createRequire } from 'node:module';
import {
  type BinaryOperationNode,
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  OperatorNode,
  PostgresQueryCompiler,
  PrimitiveValueListNode,
  type QueryId,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import pg from 'pg';

// node-postgres' own conversion of a parameter to its text form (dates, arrays, buffers, JSON).
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as { prepareValue(value: unknown): string | Buffer | null };

/** What a `withTenant` unit sets before its statements: the tenant, and the time its request has left. */
export type TenantSettings = { tenantId: string; timeoutMs?: number | undefined };

/** How one statement of a `withTenant` unit is sent: a read behind the tenant's settings, or after its unit's `begin` and settings. */
type Instruction = { read: TenantSettings } | { begin: string; settings: TenantSettings; raw: boolean };
const instructions = new WeakMap<QueryId, Instruction>();

/** The tenant of each statement of a `withTenant` unit, for the SQL metrics (see `connect`'s `onQuery`). */
const tenants = new WeakMap<QueryId, string>();

/** Notes the tenant whose unit sends the statement `queryId`. */
export function ofTenant(queryId: QueryId, tenantId: string): void {
  tenants.set(queryId, tenantId);
}

/** The tenant whose unit sent the statement `queryId`; undefined outside any unit. */
export function tenantOfStatement(queryId: QueryId): string | undefined {
  return tenants.get(queryId);
}

/** Statements whose answer nobody reads, held back to travel with their transaction's `COMMIT` (see `sendWithCommit`). */
const heldBack = new WeakSet<QueryId>();

/**
 * Marks the statement `queryId`, whose answer the caller does not read, to travel with its
 * transaction's `COMMIT`, in one round trip, rather than alone: executing it answers at once with
 * no rows. It is sent before any later statement of the transaction, and never if the transaction
 * rolls back; if it fails, so does the `COMMIT`. Outside a transaction it is sent at once.
 */
export function sendWithCommit(queryId: QueryId): void {
  heldBack.add(queryId);
}

/**
 * Marks the statement `queryId` to travel as a plain read behind the tenant's settings, in one round
 * trip, or to follow its unit's `begin` and settings on its connection.
 */
export function sendWith(queryId: QueryId, instruction: Instruction): void {
  instructions.set(queryId, instruction);
}

/**
 * The settings as one `select`, for the message that opens a unit's transaction (`timeoutMs` is
 * already a whole number, see `timeoutFor`). The tenant id matched its strict pattern (letters,
 * digits, dashes) in `withTenant`: safe as a literal.
 */
function settingsSql(tenantId: string, timeoutMs: number | undefined): string {
  const timeout = timeoutMs === undefined ? '' : `, set_config('statement_timeout', '${timeoutMs}', true)`;
  return `select set_config('app.tenant_id', '${tenantId}', true)${timeout}`;
}

const SET_TENANT = "select set_config('app.tenant_id', $1, true)";
const SET_TENANT_AND_TIMEOUT = `${SET_TENANT}, set_config('statement_timeout', $2, true)`;

/**
 * The `statement_timeout` of a unit's statements, in whole milliseconds: the time its request has
 * left, unless the connection's own (`connectionTimeoutMs`, set when it connected; 0: none) is lower.
 */
function timeoutFor(settings: TenantSettings, connectionTimeoutMs: number): number | undefined {
  if (settings.timeoutMs === undefined) return undefined;
  const left = Math.max(1, Math.floor(settings.timeoutMs));
  return connectionTimeoutMs > 0 ? Math.min(left, connectionTimeoutMs) : left;
}

/**
 * Kysely's PostgreSQL compiler, with `x in (a, b, c)` compiled as `x = any($1)` (and `not in` as
 * `<> all`): one parameter holding the list, so a statement's text does not change with the
 * length of its list and one prepared statement serves every DataLoader batch.
 */
export class TenantQueryCompiler extends PostgresQueryCompiler {
  protected override visitBinaryOperation(node: BinaryOperationNode): void {
    const operator = OperatorNode.is(node.operator) ? node.operator.operator : undefined;
    if ((operator === 'in' || operator === 'not in') && PrimitiveValueListNode.is(node.rightOperand)) {
      this.visitNode(node.leftOperand);
      this.append(operator === 'in' ? ' = any(' : ' <> all(');
      this.appendValue([...node.rightOperand.values]);
      this.append(')');
      return;
    }
    super.visitBinaryOperation(node);
  }
}

/** Prepared statements kept per connection; the least recently used beyond this are closed. */
const STATEMENTS_PER_CONNECTION = 200;
/** Every read statement's text → its name, the same on every connection (`tg_1`, `tg_2`, …). */
const statementNames = new Map<string, string>();
/**
 * Statement texts remembered at most; past it the map starts over. A text then gets a new name,
 * never an old one: a name stays bound to one text on every connection that prepared it.
 */
const MAX_STATEMENT_NAMES = 10_000;
let statementsNamed = 0;
/**
 * The statements each connection has prepared, least recently used first: `true` when its Parse
 * succeeded, `false` when its pipeline failed (it may exist or not: closed before it is parsed again).
 */
const prepared = new WeakMap<object, Map<string, boolean>>();

function nameOf(text: string): string {
  let name = statementNames.get(text);
  if (!name) {
    if (statementNames.size >= MAX_STATEMENT_NAMES) statementNames.clear();
    name = `tg_${++statementsNamed}`;
    statementNames.set(text, name);
  }
  return name;
}

type ProtocolConnection = {
  parse(message: { text: string; name: string; types: never[] }): void;
  bind(message: { portal: string; statement: string; values: (string | Buffer | null)[] }): void;
  describe(message: { type: 'P'; name: string }): void;
  execute(message: { portal: string; rows: number }): void;
  close(message: { type: 'S'; name: string }): void;
  sync(): void;
};
type StepResult = { rows: Record<string, unknown>[]; command?: string; rowCount?: number | null };
const PgQuery = pg.Query as unknown as new (config: {
  text: string;
  callback(error: Error | null, results: StepResult | StepResult[]): void;
}) => { prepare(connection: ProtocolConnection): void; handleReadyForQuery(connection: ProtocolConnection): void };

/** One statement of a pipeline: prepared under its name on each connection, or parsed unnamed each time. */
type Step = { text: string; values: (string | Buffer | null)[]; prepared: boolean };

/**
 * Statements sent as one pipeline of the extended protocol, ending with one Sync: one write and one
 * round trip. A unit's plain read: the prepared `set_config` of its tenant, then the prepared
 * read; PostgreSQL runs what comes before a Sync as one implicit transaction, so the settings hold
 * for the read and end with it. A unit's first other statement: its `begin`, the settings, then
 * the statement (unnamed: writes vary in shape); the transaction stays open after the Sync for the
 * rest of the unit. A statement not yet prepared on this connection is parsed in the same
 * pipeline, after a Close of its name (no error when there is none); it counts as prepared once
 * its pipeline succeeded. One whose pipeline failed may or may not exist: it is closed and parsed
 * again. The answer is the last statement's; rows arrive in text form, parsed as for any other query.
 */
class TenantPipeline extends PgQuery {
  readonly #steps: Step[];
  #parsed: string[] = [];
  #statements: Map<string, boolean> | undefined;

  constructor(steps: Step[], done: (error: Error | null, result?: StepResult) => void) {
    super({
      text: steps.at(-1)!.text,
      callback: (error, results) => (error ? done(error) : done(null, Array.isArray(results) ? results.at(-1) : results)),
    });
    this.#steps = steps;
  }

  requiresPreparation(): boolean {
    return true;
  }

  override prepare(connection: ProtocolConnection): void {
    const statements = prepared.get(connection) ?? new Map<string, boolean>();
    prepared.set(connection, statements);
    this.#statements = statements;
    const steps = this.#steps.map((step) => ({ ...step, name: step.prepared ? nameOf(step.text) : '' }));
    const fresh = steps.filter(({ name }) => name && !statements.has(name)).length;
    // Room first: a Close runs before anything in the pipeline can fail.
    for (const [name] of statements) {
      if (statements.size + fresh <= STATEMENTS_PER_CONNECTION) break;
      if (steps.some((step) => step.name === name)) continue;
      statements.delete(name);
      connection.close({ type: 'S', name });
    }
    for (const { name, text, values } of steps) {
      if (!name) connection.parse({ text, name, types: [] });
      else {
        const ready = statements.get(name);
        // The most recently used last.
        statements.delete(name);
        if (ready) statements.set(name, true);
        else {
          connection.close({ type: 'S', name });
          connection.parse({ text, name, types: [] });
          statements.set(name, false);
          this.#parsed.push(name);
        }
      }
      connection.bind({ portal: '', statement: name, values });
      connection.describe({ type: 'P', name: '' });
      connection.execute({ portal: '', rows: 0 });
    }
    connection.sync();
  }

  override handleReadyForQuery(connection: ProtocolConnection): void {
    // Reached only when the pipeline succeeded (an error ends a query before its ReadyForQuery).
    for (const name of this.#parsed) if (this.#statements?.has(name)) this.#statements.set(name, true);
    super.handleReadyForQuery(connection);
  }
}

/** The settings' step of a pipeline (`timeoutMs` already from `timeoutFor`). */
function settingsStep(tenantId: string, timeoutMs: number | undefined): Step {
  return timeoutMs === undefined
    ? { text: SET_TENANT, values: [tenantId], prepared: true }
    : { text: SET_TENANT_AND_TIMEOUT, values: [tenantId, String(timeoutMs)], prepared: true };
}

type Client = pg.PoolClient;
/** A pool of `pg` clients: `pg.Pool` or the router's bounded pools. */
export type ClientPool = { connect(): Promise<Client>; end(): Promise<void> };

/**
 * A Kysely driver over `pg` that sends a `withTenant` unit's statements as `sendWith` marked them:
 * a plain read in one round trip behind its tenant's settings, the first other statement in one
 * round trip behind its unit's `begin` and settings (see `TenantPipeline`); every other statement
 * as `pg` sends it. `statementTimeoutMs` is the connections' own `statement_timeout` (0: none),
 * which a unit's never exceeds; `onBefore` is told of each extra message (raw SQL's `begin` and
 * settings) and how long it took (metrics).
 */
export class TenantDriver implements Driver {
  readonly #pool: ClientPool;
  readonly #connections = new WeakMap<Client, TenantConnection>();
  readonly #options: ConnectionOptions;

  constructor(pool: ClientPool, options: ConnectionOptions) {
    this.#pool = pool;
    this.#options = options;
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<TenantConnection> {
    const client = await this.#pool.connect();
    let connection = this.#connections.get(client);
    if (!connection) {
      connection = new TenantConnection(client, this.#options);
      this.#connections.set(client, connection);
    }
    return connection;
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const mode = [settings.isolationLevel && `isolation level ${settings.isolationLevel}`, settings.accessMode].filter(Boolean);
    await connection.executeQuery(CompiledQuery.raw(mode.length > 0 ? `start transaction ${mode.join(' ')}` : 'begin'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(connection: TenantConnection): Promise<void> {
    connection.client.release();
  }

  async destroy(): Promise<void> {
    await this.#pool.end();
  }
}

type ConnectionOptions = { statementTimeoutMs: number; onBefore?: ((durationMs: number, tenantId: string) => void) | undefined };

class TenantConnection implements DatabaseConnection {
  /** Whether a transaction is open on this connection (its `begin` sent), so a statement may wait for its `COMMIT`. */
  #inTransaction = false;
  /** Statements held back for the `COMMIT` (`sendWithCommit`). */
  #held: Step[] = [];

  constructor(
    readonly client: Client,
    private readonly options: ConnectionOptions,
  ) {}

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const ending = compiled.sql === 'commit' || compiled.sql === 'rollback';
    if (heldBack.has(compiled.queryId) && this.#inTransaction) {
      this.#held.push(statementStep(compiled, false));
      return { rows: [] };
    }
    if (this.#held.length > 0) {
      const held = this.#held;
      this.#held = [];
      if (compiled.sql === 'commit') {
        this.#inTransaction = false;
        return answerOf(await this.#pipeline([...held, { text: 'commit', values: [], prepared: true }]));
      }
      // Before any other statement, in order; a rollback drops them unsent.
      if (compiled.sql !== 'rollback') await this.#pipeline(held);
    }
    if (ending) this.#inTransaction = false;
    else if (/^(begin|start transaction)\b/.test(compiled.sql)) this.#inTransaction = true;
    const instruction = instructions.get(compiled.queryId);
    if (instruction && 'begin' in instruction) this.#inTransaction = true;
    if (instruction && ('read' in instruction || !instruction.raw)) {
      const settings = 'read' in instruction ? instruction.read : instruction.settings;
      const timeoutMs = timeoutFor(settings, this.options.statementTimeoutMs);
      const steps = [settingsStep(settings.tenantId, timeoutMs), statementStep(compiled, 'read' in instruction)];
      if ('begin' in instruction) steps.unshift({ text: instruction.begin, values: [], prepared: true });
      return answerOf(await this.#pipeline(steps));
    }
    if (instruction) {
      // Raw SQL may hold several statements, which the extended protocol does not take in one message.
      const start = performance.now();
      await this.client.query(
        `${instruction.begin}; ${settingsSql(instruction.settings.tenantId, timeoutFor(instruction.settings, this.options.statementTimeoutMs))}`,
      );
      this.options.onBefore?.(performance.now() - start, instruction.settings.tenantId);
    }
    // A message of several statements (raw SQL) answers with each one's result: Kysely reads the last.
    const answer = (await this.client.query(compiled.sql, [...compiled.parameters])) as pg.QueryResult | pg.QueryResult[];
    return answerOf(Array.isArray(answer) ? answer.at(-1)! : answer);
  }

  #pipeline(steps: Step[]): Promise<StepResult> {
    return new Promise<StepResult>((resolve, reject) => {
      this.client.query(new TenantPipeline(steps, (error, result) => (error ? reject(error) : resolve(result ?? { rows: [] }))) as never);
    });
  }

  // biome-ignore lint/correctness/useYield: no statement here is streamed.
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming is not supported: read a page at a time');
  }
}

/**
 * A compiled statement as a pipeline's step: a read prepared once per connection, anything else
 * parsed unnamed. Every value is in its text form before anything is written: a value that cannot
 * be sent fails here, not half-way through a pipeline that would then wait for its Sync.
 */
function statementStep(compiled: CompiledQuery, read: boolean): Step {
  return { text: compiled.sql, values: compiled.parameters.map(prepareValue), prepared: read };
}

/** Kysely's view of a statement's answer: its rows, and the rows it changed when it was a write. */
function answerOf<R>({ command, rowCount, rows }: StepResult): QueryResult<R> {
  const changed = command === 'INSERT' || command === 'UPDATE' || command === 'DELETE' || command === 'MERGE';
  return { rows: (rows ?? []) as R[], numAffectedRows: changed ? BigInt(rowCount ?? 0) : undefined };
}
