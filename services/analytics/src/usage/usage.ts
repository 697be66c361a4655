import type { EventType } from '@tenantgraph/events';
import type { EventCountRow } from './usage.table.ts';

type TenantUsage = {
  productsCreated: number;
  ordersPlaced: number;
  ordersCancelled: number;
  projectsCreated: number;
  tasksCreated: number;
  lastEventAt: Date | null;
};

/** Which `TenantUsage` field counts each event type (a type not named here is recorded, not shown). */
const FIELD_OF: Partial<Record<EventType, keyof Omit<TenantUsage, 'lastEventAt'>>> = {
  'product.created': 'productsCreated',
  'order.placed': 'ordersPlaced',
  'order.cancelled': 'ordersCancelled',
  'project.created': 'projectsCreated',
  'task.created': 'tasksCreated',
};

/** A tenant's count rows as `TenantUsage`: zeros and no time before its first event. */
export function countRowsToUsage(rows: readonly EventCountRow[]): TenantUsage {
  const usage: TenantUsage = {
    productsCreated: 0,
    ordersPlaced: 0,
    ordersCancelled: 0,
    projectsCreated: 0,
    tasksCreated: 0,
    lastEventAt: null,
  };
  for (const row of rows) {
    const field = FIELD_OF[row.type as EventType];
    if (field) usage[field] = row.count;
    if (!usage.lastEventAt || row.last_event_at > usage.lastEventAt) usage.lastEventAt = row.last_event_at;
  }
  return usage;
}
