import pino from 'pino';

type Level = 'debug' | 'info' | 'warn' | 'error';

export type Logger = Record<Level, (message: string, fields?: Record<string, unknown>) => void> & {
  child(fields: Record<string, unknown>): Logger;
};

// One synchronous writer on stderr for every logger of the process: a line is out before a crash.
let stderr: pino.DestinationStream | undefined;

/**
 * A JSON-lines logger on stderr (pino): `{"level":"info","time":"…",…base,…fields,"message":"…"}`.
 * `level` (debug, info, warn, error, silent) sets the floor; a service passes its validated
 * `LOG_LEVEL`. An `Error` in any field keeps its name, message, `code` and `cause` (and stack).
 * @example const log = createLogger({ service: 'product' }, environment.LOG_LEVEL); log.info('listening', { port })
 */
export function createLogger(base: Record<string, unknown>, level = 'info'): Logger {
  stderr ??= pino.destination({ fd: 2, sync: true });
  const root = pino(
    {
      level: ['debug', 'info', 'warn', 'error', 'silent'].includes(level) ? level : 'info',
      base,
      messageKey: 'message',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (fields) => Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, serializeError(value)])),
      },
    },
    stderr,
  );
  return wrap(root);
}

function wrap(logger: pino.Logger): Logger {
  const at = (level: Level) => (message: string, fields?: Record<string, unknown>) =>
    fields ? logger[level](fields, message) : logger[level](message);
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => new ChildLogger(logger, fields),
  };
}

/**
 * A child logger made for every request (its id, its tenant) and most often never written to:
 * pino's child, which serialises the fields, is made on the first line written.
 */
class ChildLogger implements Logger {
  #made: Logger | undefined;
  constructor(
    private readonly parent: pino.Logger,
    private readonly fields: Record<string, unknown>,
  ) {}
  #logger(): Logger {
    this.#made ??= wrap(this.parent.child(this.fields));
    return this.#made;
  }
  debug(message: string, fields?: Record<string, unknown>) {
    this.#logger().debug(message, fields);
  }
  info(message: string, fields?: Record<string, unknown>) {
    this.#logger().info(message, fields);
  }
  warn(message: string, fields?: Record<string, unknown>) {
    this.#logger().warn(message, fields);
  }
  error(message: string, fields?: Record<string, unknown>) {
    this.#logger().error(message, fields);
  }
  child(fields: Record<string, unknown>): Logger {
    return this.#logger().child(fields);
  }
}

/** An error as a log line shows it: what failed, its code (ours or the system's) and what caused it. */
function serializeError(value: unknown, depth = 0): unknown {
  if (!(value instanceof Error)) return value;
  const { code, extensions } = value as { code?: unknown; extensions?: { code?: unknown } };
  return {
    name: value.name,
    message: value.message,
    ...((code ?? extensions?.code) !== undefined ? { code: code ?? extensions?.code } : {}),
    stack: value.stack,
    ...(value.cause !== undefined && depth < 5 ? { cause: serializeError(value.cause, depth + 1) } : {}),
  };
}
