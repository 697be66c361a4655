import { isTenantId } from '@tenantgraph/core';

/** Every kind of domain event the platform emits: `<entity>.<what happened>`. */
export const EVENT_TYPES = [
  'product.created',
  'order.placed',
  'order.cancelled',
  'project.created',
  'task.created',
  'task.status_changed',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/**
 * One change a tenant made, as it was committed: written to the outbox in the change's own
 * transaction, then published by the relay. Delivered at least once; `id` makes it countable
 * exactly once.
 */
export type DomainEvent = {
  /** A UUID, unique over every event of every database: consumers dedupe on it. */
  id: string;
  tenantId: string;
  type: EventType;
  /** The changed entity's id as the API shows it (`<tenant>:<uuid>`). */
  entityId: string;
  /** A few facts of the change (kept small: a name, a status, a total), never a whole row. */
  payload: Record<string, unknown>;
  /** When the change's transaction wrote it (ISO-8601). */
  occurredAt: string;
  /** The database it was committed in, e.g. `project_db` or `project_db__mango`. */
  source: string;
};

/** What a service hands to `recordEvent`: the rest (id, time, source) is filled in by the database. */
export type NewEvent = { type: EventType; entityId: string; payload?: Record<string, unknown> };

/** The largest payload accepted, serialized: events say what happened, not everything about it. */
export const MAX_PAYLOAD_BYTES = 4_096;

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && (EVENT_TYPES as readonly string[]).includes(value);
}

/**
 * The NATS subject of an event: `tenant.<tenantId>.<entity>.<event>`.
 * @example subjectOf({ tenantId: 'avocado', type: 'order.placed' }) // 'tenant.avocado.order.placed'
 */
export function subjectOf(event: Pick<DomainEvent, 'tenantId' | 'type'>): string {
  return `tenant.${event.tenantId}.${event.type}`;
}

/** The subject filter of one tenant's events, or of every tenant's. */
export function subjectFilter(tenantId?: string): string {
  return tenantId === undefined ? 'tenant.>' : `tenant.${tenantId}.>`;
}

/**
 * An event read back from a transport, checked field by field: a malformed message is refused
 * (it would otherwise be counted against a tenant it may not belong to).
 */
export function parseEvent(data: unknown): DomainEvent {
  const event = (data ?? {}) as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof event.id !== 'string' || !/^[0-9a-f-]{36}$/.test(event.id)) problems.push('id');
  if (!isTenantId(event.tenantId)) problems.push('tenantId');
  if (!isEventType(event.type)) problems.push('type');
  if (typeof event.entityId !== 'string') problems.push('entityId');
  if (typeof event.payload !== 'object' || event.payload === null) problems.push('payload');
  if (typeof event.occurredAt !== 'string' || Number.isNaN(Date.parse(event.occurredAt))) problems.push('occurredAt');
  if (typeof event.source !== 'string') problems.push('source');
  if (problems.length > 0) throw new Error(`not a domain event (bad ${problems.join(', ')})`);
  return {
    id: event.id as string,
    tenantId: event.tenantId as string,
    type: event.type as EventType,
    entityId: event.entityId as string,
    payload: event.payload as Record<string, unknown>,
    occurredAt: event.occurredAt as string,
    source: event.source as string,
  };
}

/** An event as the outbox and the PostgreSQL event log store it. */
export type EventRow = {
  tenant_id: string;
  id: string;
  type: string;
  entity_id: string;
  payload: Record<string, unknown>;
  occurred_at: Date;
  source: string;
};

/** A stored row as an event, checked like any message (`parseEvent`). */
export function rowToEvent(row: EventRow): DomainEvent {
  return parseEvent({
    id: row.id,
    tenantId: row.tenant_id,
    type: row.type,
    entityId: row.entity_id,
    payload: row.payload,
    occurredAt: row.occurred_at.toISOString(),
    source: row.source,
  });
}
