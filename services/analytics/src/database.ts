import type { EventCountTable, RecordedEventTable } from './usage/usage.table.ts';

export interface Database {
  recorded_event: RecordedEventTable;
  event_count: EventCountTable;
}
