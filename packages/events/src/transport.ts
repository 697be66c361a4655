import type { DomainEvent } from './event.ts';

/** Whose events a live subscription receives: one tenant's, or (platform code only) every tenant's. */
export type EventScope = { tenantId: string } | 'all';

/** How an event reached a durable consumer. */
export type Delivery = {
  /** True when this event may have been handled before (a retry, a restart, a replay). */
  redelivered: boolean;
};

/** A durable consumer's handler: resolving acknowledges the event; throwing has it delivered again later. */
export type EventHandler = (event: DomainEvent, delivery: Delivery) => Promise<void>;

/** A running subscription or consumer. */
export type Subscription = {
  /** Stops delivering; for a durable consumer, what was not acknowledged is delivered again on its next start. */
  close(): Promise<void>;
};

export type ConsumeOptions = {
  /** Wait before an event whose handler failed is delivered again. */
  retryDelayMs?: number;
  /** Called with a handler's failure (the event is retried). */
  onError?(error: unknown, event: DomainEvent | undefined): void;
};

/**
 * Where committed domain events go, and how they are read back: NATS JetStream
 * (`createNatsTransport`) or PostgreSQL (`createPostgresTransport`), one interface.
 *
 * Delivery is at least once. A republished event (same `id`) is dropped by the transport where it
 * can (JetStream's duplicate window, the event log's unique key); consumers still dedupe on `id`.
 * Order is kept per tenant: the events of one `publish` call are stored in the order given.
 */
export interface EventTransport {
  readonly kind: 'nats' | 'postgres';
  /** Stores `events` in order; resolves once every one is stored (or known as a duplicate). */
  publish(events: readonly DomainEvent[]): Promise<void>;
  /**
   * Live delivery of the events published from now on, of one tenant or of all; replays are
   * not delivered again. Nothing is kept for a closed subscription. A handler's error is ignored.
   * @example const sub = await transport.subscribe({ tenantId: 'avocado' }, (event) => console.log(event.type))
   */
  subscribe(scope: EventScope, handler: (event: DomainEvent) => void): Promise<Subscription>;
  /**
   * A durable consumer: every event of every tenant, from the first one the consumer has not
   * acknowledged, in order per tenant, one at a time. Its position survives restarts.
   * @example await transport.consume('analytics_sync', async (event) => recordUsage(event))
   */
  consume(name: string, handler: EventHandler, options?: ConsumeOptions): Promise<Subscription>;
  /** Events the durable consumer `name` has not acknowledged yet (0 before it ever ran on an empty log). */
  lag(name: string): Promise<number>;
  /**
   * Delivers a tenant's stored events since `since` again to every durable consumer (marked
   * redelivered); live subscriptions do not see them. Resolves with how many were re-sent.
   */
  replay(options: { tenantId: string; since: Date }): Promise<number>;
  close(): Promise<void>;
}
