import { type Child, stopChild } from './processes.ts';

export type SupervisorOptions = {
  name: string;
  /** Starts one run of the service (a fresh process each time). */
  start(): Child;
  /** Resolves once a run serves (e.g. its `/health` answers); throws when it does not. */
  ready(child: Child): Promise<void>;
  log(line: string): void;
  /** Delay before the first restart; doubled for each further crash in a row, up to `maxDelayMs`. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** A run that served this long before it died counts as healthy: the next delay is the first again. */
  stableAfterMs?: number;
  /**
   * False while the whole stack is stopping: Ctrl-C reaches every child of the terminal at once,
   * and a service that exits before its own `stop()` is not a crash.
   */
  shouldRestart?(): boolean;
};

export type Supervised = {
  readonly name: string;
  /** The latest run. */
  current(): Child;
  /** Restarts so far. */
  restarts(): number;
  /** Stops the service for good (SIGTERM, then SIGKILL): no restart after this. */
  stop(): Promise<void>;
};

/**
 * Keeps one service running: starts it, waits until it is ready, and whenever it dies (crash,
 * out of memory, killed) starts it again after a delay that doubles with each crash in a row
 * (1 s, 2 s, 4 s ... 30 s), logging which service, its exit code and the delay. Only `stop()`
 * ends it. The first run must become ready: a service that cannot start at all is an error
 * for the caller, not something to retry forever.
 *
 * @example
 * const product = await supervise({ name: 'product', start: () => runService(...), ready: (child) => waitUntilHealthy(url, child), log });
 * await product.stop();
 */
export async function supervise(options: SupervisorOptions): Promise<Supervised> {
  const { name, log, initialDelayMs = 1_000, maxDelayMs = 30_000, stableAfterMs = 30_000 } = options;
  let child = options.start();
  let startedAt = Date.now();
  let stopped = false;
  let restarts = 0;
  let crashesInARow = 0;
  let timer: NodeJS.Timeout | undefined;

  const watch = (run: Child) => {
    void run.exited.then((code) => {
      if (stopped || run !== child || options.shouldRestart?.() === false) return;
      const signal = run.process.signalCode;
      crashesInARow = Date.now() - startedAt >= stableAfterMs ? 1 : crashesInARow + 1;
      const delayMs = Math.min(maxDelayMs, initialDelayMs * 2 ** (crashesInARow - 1));
      log(`${name} exited with code ${code}${signal ? ` (${signal})` : ''}; restarting in ${seconds(delayMs)} s`);
      timer = setTimeout(() => restart(), delayMs);
    });
  };

  const restart = () => {
    if (stopped) return;
    restarts++;
    child = options.start();
    startedAt = Date.now();
    watch(child);
    const run = child;
    options.ready(run).then(
      () => {
        if (!stopped && run === child) log(`${name} is back (pid ${run.process.pid}, restart ${restarts})`);
      },
      // A run that dies before it is ready is seen by `watch`, which schedules the next attempt;
      // one that hangs without serving is killed, and so seen by `watch` too.
      () => {
        if (run.process.exitCode === null && run.process.signalCode === null) run.process.kill('SIGKILL');
      },
    );
  };

  try {
    await options.ready(child);
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  watch(child);
  return {
    name,
    current: () => child,
    restarts: () => restarts,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await stopChild(child);
    },
  };
}

const seconds = (ms: number) => (ms >= 10_000 || ms % 1_000 === 0 ? String(Math.round(ms / 1_000)) : (ms / 1_000).toFixed(1));
