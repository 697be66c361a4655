import { randomUUID } from 'node:crypto';
import { createServiceDatabases, type ServiceDatabases } from '@tenantgraph/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresTransport, type DomainEvent, eventLogMigrationsFolder } from '../src/index.ts';

const event = (tenantId: string): DomainEvent => ({
  id: randomUUID(),
  tenantId,
  type: 'product.created',
  entityId: `${tenantId}:${randomUUID()}`,
  payload: {},
  occurredAt: new Date().toISOString(),
  source: 'product_db',
});

describe('the PostgreSQL transport keeps events for maxAgeMs', () => {
  let databases: ServiceDatabases;
  let admin: pg.Pool;
  beforeAll(async () => {
    databases = await createServiceDatabases({ service: 'retention', migrationsFolder: eventLogMigrationsFolder });
    admin = new pg.Pool({ connectionString: databases.asAdmin(databases.sharedUrl), max: 1 });
  });
  afterAll(async () => {
    await admin?.end();
    await databases?.drop();
  });

  it('deletes what was published longer ago when it next publishes, and keeps the rest', async () => {
    const [old, recent, next] = [event('avocado'), event('mango'), event('avocado')];
    const first = await createPostgresTransport({ url: databases.sharedUrl, maxAgeMs: 60_000 });
    await first.publish([old, recent]);
    await first.close();
    // `old` was published two minutes ago, as far as the log can tell.
    await admin.query(`update event_log set published_at = now() - interval '2 minutes' where id = $1`, [old.id]);
    const second = await createPostgresTransport({ url: databases.sharedUrl, maxAgeMs: 60_000 });
    await second.publish([next]);
    await second.close();
    const { rows } = await admin.query<{ id: string }>('select id from event_log order by seq');
    expect(rows.map((row) => row.id)).toEqual([recent.id, next.id]);
  });
});
