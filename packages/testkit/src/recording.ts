import type { Logger } from '@tenantgraph/core';

/** One line of a `recordingLogger`. */
export type LogLine = { level: string; message: string; fields?: Record<string, unknown> | undefined };

/**
 * A logger that keeps its lines, so a test can read what was logged (an access line, a reload)
 * or wait for it. A child logger (one per authenticated request) writes to the same lines and is
 * noted as a `child` line carrying its fields.
 */
export function recordingLogger(lines: LogLine[] = []): Logger & { lines: LogLine[] } {
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => void lines.push({ level, message, fields });
  return {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => {
      lines.push({ level: 'child', message: 'request authenticated', fields });
      return recordingLogger(lines);
    },
  };
}

/** Resolves once `check` holds (asked every 20 ms); throws after `timeoutMs`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
