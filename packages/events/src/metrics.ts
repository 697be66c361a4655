import { Counter, Gauge, type Registry } from 'prom-client';
import type { DomainEvent } from './event.ts';

/** Distinct tenant (or database) label values kept per metric; the rest are counted under `other`. */
export const MAX_EVENT_LABELS = 100;

/** A label value from an open set, bounded: the first `max` values seen keep their name, later ones become `other`. */
function boundedLabel(max = MAX_EVENT_LABELS) {
  const seen = new Set<string>();
  return (value: string) => {
    if (seen.has(value)) return value;
    if (seen.size >= max) return 'other';
    seen.add(value);
    return value;
  };
}

/**
 * Per-tenant event metrics beside a service's others: `events_published_total` and
 * `events_consumed_total` by tenant and type, `event_outbox_backlog` (unsent rows) by database,
 * `event_consumer_lag` by consumer. Tenant and database labels are bounded (`MAX_EVENT_LABELS`).
 * @example const events = createEventMetrics(metrics.registry); relay({ onPublished: events.published })
 */
export function createEventMetrics(registry: Registry) {
  const tenant = boundedLabel();
  const database = boundedLabel();
  const published = new Counter({
    name: 'events_published_total',
    help: 'Domain events published by the outbox relay',
    labelNames: ['tenant', 'type'] as const,
    registers: [registry],
  });
  const consumed = new Counter({
    name: 'events_consumed_total',
    help: 'Domain events a durable consumer recorded (each event once)',
    labelNames: ['consumer', 'tenant', 'type'] as const,
    registers: [registry],
  });
  const backlog = new Gauge({
    name: 'event_outbox_backlog',
    help: 'Outbox rows not yet published, by database',
    labelNames: ['database'] as const,
    registers: [registry],
  });
  const lag = new Gauge({
    name: 'event_consumer_lag',
    help: 'Events a durable consumer has not acknowledged yet',
    labelNames: ['consumer'] as const,
    registers: [registry],
  });
  return {
    published(events: readonly DomainEvent[]) {
      for (const event of events) published.inc({ tenant: tenant(event.tenantId), type: event.type });
    },
    consumed(consumer: string, event: DomainEvent) {
      consumed.inc({ consumer, tenant: tenant(event.tenantId), type: event.type });
    },
    backlog(name: string, unsent: number) {
      backlog.set({ database: database(name) }, unsent);
    },
    lag(consumer: string, pending: number) {
      lag.set({ consumer }, pending);
    },
  };
}

export type EventMetrics = ReturnType<typeof createEventMetrics>;
