import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export type Child = { name: string; process: ChildProcess; exited: Promise<number | null> };

/**
 * Runs a TypeScript entry point in its own Node.js process, its log lines prefixed with its name.
 */
export function runService(name: string, cwd: string, entry: string, env: Record<string, string>, nodeArgs: string[] = []): Child {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', entry], {
    cwd,
    env: { ...process.env, ...env, STOP_WITH_PARENT: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => console.log(`[${name.padEnd(7)}] ${compact(line)}`));
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { name, process: child, exited };
}

/** JSON log lines shown as `level message {fields}` for people reading a terminal. */
function compact(line: string): string {
  try {
    const { time: _time, level, service: _service, message, ...fields } = JSON.parse(line);
    const rest = Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : '';
    return `${level} ${message}${rest}`;
  } catch {
    return line;
  }
}

/** Polls `url` until it answers 200, the child dies, or `timeoutMs` passes. */
export async function waitUntilHealthy(url: string, child: Child, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let dead = false;
  void child.exited.then(() => {
    dead = true;
  });
  while (Date.now() < deadline) {
    if (dead) throw new Error(`${child.name} exited before it was healthy`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${child.name} was not healthy at ${url} within ${timeoutMs / 1000}s`);
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(child: Child, graceMs = 10_000): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}
