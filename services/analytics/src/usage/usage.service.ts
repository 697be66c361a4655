import type { DatabaseRouter } from '@tenantgraph/database';
import { withTenant } from '@tenantgraph/database';
import type { DomainEvent } from '@tenantgraph/events';
import type { Database } from '../database.ts';
import { incrementEventCount, insertRecordedEvent } from './usage.repository.ts';

/**
 * Counts one domain event in its tenant's analytics database, once: the event's id and its count
 * are written in one transaction, and an id seen before changes nothing. Resolves with whether it
 * was counted now (false for a redelivery).
 */
export async function recordUsage(databases: DatabaseRouter<Database>, event: DomainEvent): Promise<boolean> {
  const db = await databases.forTenant(event.tenantId);
  return withTenant(db, event.tenantId, async (trx) => {
    if (!(await insertRecordedEvent(trx, event.tenantId, event))) return false;
    await incrementEventCount(trx, event.tenantId, event.type, new Date(event.occurredAt));
    return true;
  });
}
