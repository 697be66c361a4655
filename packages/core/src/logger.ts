type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type Logger = Record<Level, (message: string, fields?: Record<string, unknown>) => void> & {
  child(fields: Record<string, unknown>): Logger;
};

/**
 * A JSON-lines logger on stderr. `level` (debug, info, warn, error, silent) sets the floor; a
 * service passes its validated `LOG_LEVEL`.
 * @example const log = createLogger({ service: 'product' }, environment.LOG_LEVEL); log.info('listening', { port })
 */
export function createLogger(base: Record<string, unknown>, level = 'info'): Logger {
  const floor = level === 'silent' ? Number.POSITIVE_INFINITY : (ORDER[level as Level] ?? ORDER.info);
  const write = (lvl: Level) => (message: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < floor) return;
    const line = { time: new Date().toISOString(), level: lvl, ...base, message, ...fields };
    process.stderr.write(`${JSON.stringify(line, errorReplacer)}\n`);
  };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (fields) => createLogger({ ...base, ...fields }, level),
  };
}

function errorReplacer(_key: string, value: unknown) {
  return value instanceof Error ? { name: value.name, message: value.message, stack: value.stack } : value;
}
