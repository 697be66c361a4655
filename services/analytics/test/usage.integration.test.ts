import { randomBytes, randomUUID } from 'node:crypto';
import { createLogger } from '@tenantgraph/core';
import { connect, createDatabaseRouter } from '@tenantgraph/database';
import {
  createNatsTransport,
  createPostgresTransport,
  type DomainEvent,
  deleteNatsStream,
  type EventTransport,
  type EventType,
  eventLogMigrationsFolder,
} from '@tenantgraph/events';
import { createServiceDatabases, dataSubgraphTest, graphql, staticRegistry } from '@tenantgraph/testkit';
import { describe, expect } from 'vitest';
import type { Database } from '../src/database.ts';
import { createAnalyticsServer, migrationsFolder, startAnalyticsSync } from '../src/server.ts';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const USAGE = `query($r: [_Any!]!) {
  _entities(representations: $r) { ... on Tenant { usage { productsCreated ordersPlaced ordersCancelled projectsCreated tasksCreated lastEventAt } } }
}`;

/** A transport of the file's own: a fresh NATS stream and subject prefix, or a fresh events database. */
async function openTransport(kind: 'nats' | 'postgres'): Promise<{ transport: EventTransport; drop(): Promise<void> }> {
  const run = randomBytes(4).toString('hex');
  if (kind === 'nats') {
    const stream = `TEST_ANALYTICS_${run}`;
    const transport = await createNatsTransport({ url: NATS_URL, stream, subjectPrefix: `test_${run}.tenant` });
    return {
      transport,
      async drop() {
        await transport.close();
        await deleteNatsStream(NATS_URL, stream);
      },
    };
  }
  const databases = await createServiceDatabases({ service: 'events', migrationsFolder: eventLogMigrationsFolder });
  const transport = await createPostgresTransport({ url: databases.sharedUrl, pollMs: 200 });
  return { transport, drop: () => transport.close().then(() => databases.drop()) };
}

const event = (tenantId: string, type: EventType, occurredAt = new Date()): DomainEvent => ({
  id: randomUUID(),
  tenantId,
  type,
  entityId: `${tenantId}:${randomUUID()}`,
  payload: {},
  occurredAt: occurredAt.toISOString(),
  source: 'test',
});

const it = dataSubgraphTest<Database>({ service: 'analytics', migrationsFolder, create: createAnalyticsServer });

describe.each(['nats', 'postgres'] as const)('analytics_sync on the %s transport', (kind) => {
  it("counts each tenant's events once, in the tenant's own database, and answers Tenant.usage", async ({ auth, url, databases }) => {
    const { transport, drop } = await openTransport(kind);
    const router = createDatabaseRouter<Database>({ sharedUrl: databases.sharedUrl, registry: staticRegistry() });
    const logger = createLogger({ service: 'analytics' }, 'silent');
    const usageOf = async (tenant: string) =>
      (await graphql(url, { token: await auth.token(tenant), query: USAGE, variables: { r: [{ __typename: 'Tenant', id: tenant }] } })).body
        .data._entities[0].usage;
    const before = { avocado: await usageOf('avocado'), mango: await usageOf('mango') };
    const latest = new Date(Date.now() + 1_000);
    const avocado = [
      event('avocado', 'product.created'),
      event('avocado', 'product.created'),
      event('avocado', 'order.placed'),
      event('avocado', 'order.cancelled'),
      event('avocado', 'task.status_changed', latest),
    ];
    const mango = [event('mango', 'project.created'), event('mango', 'project.created'), event('mango', 'task.created')];
    try {
      await transport.publish([...avocado, ...mango, event('nobody', 'product.created')]);
      const consumer = await startAnalyticsSync({ transport, databases: router, logger, retryDelayMs: 100 });
      await expect.poll(() => transport.lag('analytics_sync'), { timeout: 15_000 }).toBe(0);
      // Every event delivered again (a replay): counted once all the same.
      await transport.replay({ tenantId: 'avocado', since: new Date(0) });
      await transport.replay({ tenantId: 'mango', since: new Date(0) });
      await expect.poll(() => transport.lag('analytics_sync'), { timeout: 15_000 }).toBe(0);
      await consumer.close();

      const plus = (tenant: 'avocado' | 'mango', delta: Record<string, number>) =>
        Object.fromEntries(
          Object.entries(before[tenant]).map(([key, value]) => [
            key,
            key === 'lastEventAt' ? value : (value as number) + (delta[key] ?? 0),
          ]),
        );
      expect({ ...(await usageOf('avocado')), lastEventAt: null }).toEqual({
        ...plus('avocado', { productsCreated: 2, ordersPlaced: 1, ordersCancelled: 1 }),
        lastEventAt: null,
      });
      expect((await usageOf('avocado')).lastEventAt).toBe(latest.toISOString());
      expect({ ...(await usageOf('mango')), lastEventAt: null }).toEqual({
        ...plus('mango', { projectsCreated: 2, tasksCreated: 1 }),
        lastEventAt: null,
      });

      // mango's counts live in its dedicated database only.
      const { sharedUrl } = databases;
      const rowsIn = async (databaseUrl: string, tenant: string) => {
        const db = connect<Database>(databases.asAdmin(databaseUrl));
        try {
          return (
            await db
              .selectFrom('recorded_event')
              .where('tenant_id', '=', tenant)
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .executeTakeFirstOrThrow()
          ).n;
        } finally {
          await db.destroy();
        }
      };
      expect(await rowsIn(sharedUrl, 'mango')).toBe(0);
      expect(await rowsIn(databases.dedicatedUrl('mango'), 'mango')).toBeGreaterThanOrEqual(3);
    } finally {
      await router.destroy();
      await drop();
    }
  });
});
