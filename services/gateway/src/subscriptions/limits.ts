import type { Plan } from '../rate-limit.ts';

/** Bounds on the gateway's subscriptions. */
export type SubscriptionLimits = {
  /** Open subscriptions on one WebSocket, by the tenant's plan. */
  perConnection: Record<Plan, number>;
  /** Open subscriptions of one tenant in one gateway process, by plan. */
  perTenant: Record<Plan, number>;
  /** A ping this often; a socket that has not answered the last one by the next is dropped. 0: none. */
  keepAliveMs: number;
  /** Answers waiting to be sent on one subscription; a client further behind is disconnected. */
  maxQueuedPerSubscription: number;
  /** Bytes written to a socket and not yet taken by the client; beyond, the client is disconnected. */
  maxBufferedBytes: number;
  /** Largest message a client may send (a subscribe with its query and variables). */
  maxMessageBytes: number;
};

/**
 * Defaults: a browser tab subscribes to a handful of fields, a PRO tenant's users to a few hundred
 * at once. A slow client is let go after 100 unsent events or 1 MiB unread, whichever comes first.
 */
export const DEFAULT_SUBSCRIPTION_LIMITS: SubscriptionLimits = {
  perConnection: { FREE: 10, PRO: 50, ENTERPRISE: 100 },
  perTenant: { FREE: 100, PRO: 1_000, ENTERPRISE: 5_000 },
  keepAliveMs: 12_000,
  maxQueuedPerSubscription: 100,
  maxBufferedBytes: 1_048_576,
  maxMessageBytes: 65_536,
};
