import { createOutboxTable, dropOutboxTable } from '@tenantgraph/events';
import type { Kysely } from 'kysely';

// Domain events are written here in the transaction of the change they describe (the transactional outbox).
export async function up(db: Kysely<any>): Promise<void> {
  await createOutboxTable(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await dropOutboxTable(db);
}
