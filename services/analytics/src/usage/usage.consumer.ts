import type { Logger } from '@tenantgraph/core';
import type { DatabaseRouter } from '@tenantgraph/database';
import type { EventMetrics, EventTransport, Subscription } from '@tenantgraph/events';
import type { Database } from '../database.ts';
import { recordUsage } from './usage.service.ts';

/** The durable consumer's name: where it stands in the stream survives restarts. */
export const CONSUMER = 'analytics_sync';

/**
 * Runs `analytics_sync`: every domain event of every tenant, counted once in the tenant's own
 * analytics database. A failure (the database away, the tenant being moved) has the event
 * delivered again; an event of a tenant the registry no longer knows is skipped.
 */
export async function startAnalyticsSync(options: {
  transport: EventTransport;
  databases: DatabaseRouter<Database>;
  logger: Logger;
  metrics?: EventMetrics;
  retryDelayMs?: number;
}): Promise<Subscription> {
  const { transport, databases, logger, metrics } = options;
  const consumer = await transport.consume(
    CONSUMER,
    async (event) => {
      try {
        if (await recordUsage(databases, event)) metrics?.consumed(CONSUMER, event);
      } catch (error) {
        if ((error as { extensions?: { code?: string } }).extensions?.code !== 'UNKNOWN_TENANT') throw error;
        logger.warn('event of an unknown tenant skipped', { eventId: event.id, tenant: event.tenantId });
      }
    },
    {
      retryDelayMs: options.retryDelayMs ?? 1_000,
      onError: (error, event) => logger.warn('event not recorded; it comes again', { eventId: event?.id, error }),
    },
  );
  // Consumer lag, for the metrics listener.
  const timer = setInterval(() => {
    transport.lag(CONSUMER).then(
      (lag) => metrics?.lag(CONSUMER, lag),
      () => {},
    );
  }, 5_000).unref();
  return {
    async close() {
      clearInterval(timer);
      await consumer.close();
    },
  };
}
