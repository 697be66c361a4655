import type { Logger } from '@tenantgraph/core';
import { stopTracing } from '@tenantgraph/telemetry';
import type { MetricsServer } from './metrics-server.ts';

/** Something a service runs beside its server (the outbox relay, an event consumer). */
export type BackgroundTask = { start(): Promise<void>; stop(): Promise<void> };

/**
 * Runs a long-lived service: on SIGTERM or SIGINT it stops accepting, drains in-flight
 * requests, closes its resources and exits 0; a second signal exits at once. With
 * `stopWithParent` (the environment's STOP_WITH_PARENT) it also stops when its stdin closes.
 */
export function stopOnSignals(stop: () => Promise<void>, logger: Logger, { stopWithParent = false } = {}) {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info('stopping', { signal });
    // The spans of the last requests are sent before the process exits.
    stop()
      .then(stopTracing)
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error('stop failed', { error });
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Under `pnpm start` the parent holds our stdin: when it goes away, however it died, so do we.
  if (stopWithParent) {
    process.stdin.on('close', () => onSignal('SIGHUP'));
    process.stdin.resume();
  }
}

/**
 * The end of every service's `index.ts`: starts the API server on `PORT` and its separate
 * metrics listener on `METRICS_PORT`, and stops both on a signal (see `stopOnSignals`).
 * @example await runService({ server, metrics: createMetricsServer({ registry, logger }), env: environment, logger })
 */
export async function runService(options: {
  server: { start(port: number, host?: string): Promise<number>; stop(): Promise<void> };
  metrics: MetricsServer;
  env: { PORT: number; HOST: string; METRICS_PORT: number; METRICS_HOST: string; STOP_WITH_PARENT?: boolean };
  logger: Logger;
  /** Work beside the server (the outbox relay, an event consumer): started after it, stopped with it. */
  background?: BackgroundTask[];
}) {
  const { server, metrics, env, background = [] } = options;
  await server.start(env.PORT, env.HOST);
  await metrics.start(env.METRICS_PORT, env.METRICS_HOST);
  for (const task of background) await task.start();
  stopOnSignals(
    async () => {
      await Promise.all([...background.map((task) => task.stop()), server.stop(), metrics.stop()]);
    },
    options.logger,
    { stopWithParent: env.STOP_WITH_PARENT ?? false },
  );
}
