import type { Generated, Selectable } from 'kysely';

/** One row per domain event recorded: the consumer's memory of what it has counted. */
export interface RecordedEventTable {
  tenant_id: string;
  event_id: string;
  type: string;
  occurred_at: Date;
  recorded_at: Generated<Date>;
}

/** Events recorded per tenant and type, and when the newest of them happened. */
export interface EventCountTable {
  tenant_id: string;
  type: string;
  count: Generated<number>;
  last_event_at: Date;
}

export type EventCountRow = Selectable<EventCountTable>;
