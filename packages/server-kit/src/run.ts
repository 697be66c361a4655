import type { Logger } from '@tenantgraph/core';

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
    stop().then(
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
