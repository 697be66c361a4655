import type { Logger } from '@tenantgraph/core';
import type { Registry } from 'prom-client';
import { connectEventTransport } from './connect.ts';
import { createEventMetrics } from './metrics.ts';
import { createOutboxRelay, type OutboxRelay } from './relay.ts';
import type { EventTransport } from './transport.ts';

/** Something a service runs beside its server, started and stopped by `runService`. */
type BackgroundTask = { start(): Promise<void>; stop(): Promise<void> };

/** Where a service's events go: `NATS_URL`, else `EVENTS_DATABASE_URL` (see `connectEventTransport`). */
export type EventSettings = { NATS_URL?: string | undefined; EVENTS_DATABASE_URL?: string | undefined };
/** How long published rows stay in the outbox (`OUTBOX_RETAIN_SENT_S`). */
type OutboxSettings = { DATABASE_URL: string; OUTBOX_RETAIN_SENT_S?: number | undefined };

/**
 * The outbox relay of a data subgraph as a background task: connects the transport the
 * environment names and drains the shared and dedicated outboxes until stopped. With no transport
 * configured it only logs that events wait in the outbox.
 * @example await runService({ server, metrics, env, logger, background: [outboxRelayTask(SERVICE, environment, deps)] })
 */
export function outboxRelayTask(
  service: string,
  env: EventSettings & OutboxSettings,
  deps: { logger: Logger; metrics: { registry: Registry } },
): BackgroundTask {
  const { logger } = deps;
  const metrics = createEventMetrics(deps.metrics.registry);
  let transport: EventTransport | undefined;
  let relay: OutboxRelay | undefined;
  return {
    async start() {
      transport = await connectEventTransport({
        natsUrl: env.NATS_URL,
        eventsDatabaseUrl: env.EVENTS_DATABASE_URL,
        name: service,
      });
      if (!transport) {
        logger.warn('no NATS_URL or EVENTS_DATABASE_URL: domain events stay in the outbox until one is set');
        return;
      }
      relay = createOutboxRelay({
        transport,
        sharedUrl: env.DATABASE_URL,
        retainSentMs: env.OUTBOX_RETAIN_SENT_S === undefined ? undefined : env.OUTBOX_RETAIN_SENT_S * 1000,
        logger,
        onPublished: metrics.published,
        onBacklog: metrics.backlog,
      });
      await relay.start();
      logger.info('outbox relay running', { transport: transport.kind });
    },
    async stop() {
      await relay?.stop();
      await transport?.close();
    },
  };
}
