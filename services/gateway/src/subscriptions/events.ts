/** One domain event as the gateway needs it: whose it is, what happened, and to which entity. */
export type TenantEvent = {
  /** Unique per event (the transports deliver at least once; a repeated id is delivered once). */
  id: string;
  tenantId: string;
  /** `project.created`, `order.placed`, `task.status_changed` ... */
  type: string;
  /** The global id of the entity, read through the tenant's lookup fields. */
  entityId: string;
};

/**
 * The part of the event transport (`EventTransport` of @tenantgraph/events, NATS or PostgreSQL)
 * the gateway uses: live subscriptions to one tenant's events (`tenant.<tenantId>.>`), the tenant
 * always the one of a verified token.
 */
export type TenantEventSource = {
  /** Calls `handler` with each new event of the tenant, in order; resolves once listening. */
  subscribe(scope: { tenantId: string }, handler: (event: TenantEvent) => void): Promise<{ close(): Promise<void> }>;
  close(): Promise<void>;
};
