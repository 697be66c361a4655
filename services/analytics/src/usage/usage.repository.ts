import type { DomainEvent } from '@tenantgraph/events';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../database.ts';
import type { EventCountRow } from './usage.table.ts';

/** Remembers an event; false when it was recorded before (a redelivery). */
export async function insertRecordedEvent(db: Kysely<Database>, tenantId: string, event: DomainEvent): Promise<boolean> {
  const inserted = await db
    .insertInto('recorded_event')
    .values({ tenant_id: tenantId, event_id: event.id, type: event.type, occurred_at: new Date(event.occurredAt) })
    .onConflict((oc) => oc.columns(['tenant_id', 'event_id']).doNothing())
    .returning('event_id')
    .executeTakeFirst();
  return inserted !== undefined;
}

/** Adds one to the tenant's count of `type`, keeping the newest event time. */
export async function incrementEventCount(db: Kysely<Database>, tenantId: string, type: string, occurredAt: Date): Promise<void> {
  await db
    .insertInto('event_count')
    .values({ tenant_id: tenantId, type, count: 1, last_event_at: occurredAt })
    .onConflict((oc) =>
      oc.columns(['tenant_id', 'type']).doUpdateSet({
        count: sql<number>`event_count.count + 1`,
        last_event_at: sql<Date>`greatest(event_count.last_event_at, excluded.last_event_at)`,
      }),
    )
    .execute();
}

export async function findEventCounts(db: Kysely<Database>, tenantId: string): Promise<EventCountRow[]> {
  return db.selectFrom('event_count').selectAll().where('tenant_id', '=', tenantId).execute();
}
