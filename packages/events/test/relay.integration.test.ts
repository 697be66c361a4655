import { fileURLToPath } from 'node:url';
import { toGlobalId } from '@tenantgraph/core';
import { connect, copyTenantRows, deleteTenantRows, withTenant } from '@tenantgraph/database';
import { createServiceDatabases, type ServiceDatabases } from '@tenantgraph/testkit';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOutboxRelay, type DomainEvent, type EventTransport, type OutboxDatabase, recordEvent } from '../src/index.ts';
import { eventually, openTestTransport, type TestTransport, type TransportKind } from './transports.ts';

type Database = OutboxDatabase & { item: { tenant_id: string; id: string; name: string } };

const migrationsFolder = fileURLToPath(new URL('./migrations', import.meta.url));

/** An item written with its event, as a room's service does: one transaction. */
async function createItem(db: Kysely<Database>, tenantId: string, name: string, { fail = false } = {}) {
  return withTenant(db, tenantId, async (trx) => {
    const row = await trx
      .insertInto('item')
      .values({ tenant_id: tenantId, id: crypto.randomUUID(), name })
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordEvent(trx, tenantId, { type: 'product.created', entityId: toGlobalId(tenantId, row.id), payload: { name } });
    if (fail) throw new Error('a later step failed');
    return row;
  });
}

describe.each<TransportKind>(['nats', 'postgres'])('the outbox relay on the %s transport', (kind) => {
  let opened: TestTransport;
  let transport: EventTransport;
  let databases: ServiceDatabases;
  let shared: Kysely<Database>;
  let mango: Kysely<Database>;
  /** Everything the durable consumer received, in order. */
  const received: DomainEvent[] = [];
  const ofName = (name: string) => received.filter((event) => event.payload.name === name);

  beforeAll(async () => {
    opened = await openTestTransport(kind);
    transport = opened.transport;
    databases = await createServiceDatabases({ service: 'relay', migrationsFolder, dedicatedTenants: ['mango'] });
    shared = connect<Database>(databases.sharedUrl);
    mango = connect<Database>(databases.dedicatedUrl('mango'));
    await transport.consume('relay_test', async (event) => {
      received.push(event);
    });
  });
  afterAll(async () => {
    await Promise.all([shared?.destroy(), mango?.destroy()]);
    await opened?.drop();
    await databases?.drop();
  });

  it('publishes each committed change once, to its own tenant, and marks it sent', async () => {
    const row = await createItem(shared, 'avocado', 'committed-1');
    await createItem(shared, 'kiwi', 'committed-2');
    const relay = createOutboxRelay({ transport, sharedUrl: databases.sharedUrl });
    expect(await relay.drain()).toBe(2);
    expect(await relay.drain()).toBe(0);
    await relay.stop();
    await eventually(() => ofName('committed-2').length === 1);
    expect(ofName('committed-1')).toEqual([
      expect.objectContaining({
        tenantId: 'avocado',
        type: 'product.created',
        entityId: `avocado:${row.id}`,
        source: expect.stringMatching(/^t_relay_/),
      }),
    ]);
    expect(ofName('committed-2')[0]?.tenantId).toBe('kiwi');
    const unsent = await withTenant(shared, 'avocado', (trx) => trx.selectFrom('event_outbox').select('sent_at').execute());
    expect(unsent.every((r) => r.sent_at !== null)).toBe(true);
  });

  it('deletes published rows older than the retention, never an unsent one, of every tenant', async () => {
    await createItem(shared, 'avocado', 'purged-1');
    await createItem(shared, 'kiwi', 'purged-2');
    const relay = createOutboxRelay({ transport, sharedUrl: databases.sharedUrl, retainSentMs: 0 });
    await relay.drain();
    await createItem(shared, 'avocado', 'kept-unsent');
    await relay.purge();
    await relay.stop();
    const left = async (tenantId: string) =>
      withTenant(shared, tenantId, (trx) => trx.selectFrom('event_outbox').select(['sent_at', 'payload']).execute());
    expect(await left('kiwi')).toEqual([]);
    expect(await left('avocado')).toEqual([{ sent_at: null, payload: { name: 'kept-unsent' } }]);
    // A relay with the default retention (an hour) keeps what it just published.
    const keeping = createOutboxRelay({ transport, sharedUrl: databases.sharedUrl });
    await keeping.drain();
    expect(await keeping.purge()).toBe(0);
    await keeping.stop();
    expect((await left('avocado')).map((row) => row.sent_at === null)).toEqual([false]);
  });

  it('never publishes a rolled-back change', async () => {
    await expect(createItem(shared, 'avocado', 'rolled-back', { fail: true })).rejects.toThrow(/later step/);
    const relay = createOutboxRelay({ transport, sharedUrl: databases.sharedUrl });
    await relay.drain();
    await createItem(shared, 'avocado', 'after-rollback');
    await relay.drain();
    await relay.stop();
    await eventually(() => ofName('after-rollback').length === 1);
    expect(ofName('rolled-back')).toEqual([]);
  });

  it("keeps one tenant's outbox rows hidden from another tenant", async () => {
    await createItem(shared, 'avocado', 'hidden');
    await createItem(shared, 'kiwi', 'visible to kiwi');
    const seen = await withTenant(shared, 'kiwi', (trx) => trx.selectFrom('event_outbox').selectAll().execute());
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((row) => row.tenant_id === 'kiwi')).toBe(true);
    const relay = createOutboxRelay({ transport, sharedUrl: databases.sharedUrl });
    await relay.drain();
    await relay.stop();
  });

  it("publishes a tenant's events in the order they were committed", async () => {
    for (let i = 0; i < 5; i++) await createItem(shared, 'avocado', `ordered-${i}`);
    const relay = createOutboxRelay({ transport, sharedUrl: databases.sharedUrl, batchSize: 2 });
    await relay.drain();
    await relay.stop();
    await eventually(() => received.filter((e) => String(e.payload.name).startsWith('ordered-')).length === 5);
    expect(received.filter((e) => String(e.payload.name).startsWith('ordered-')).map((e) => e.payload.name)).toEqual([
      'ordered-0',
      'ordered-1',
      'ordered-2',
      'ordered-3',
      'ordered-4',
    ]);
  });

  it('publishes the events of one call in the order given, each with its payload as written', async () => {
    const names = ['batch-c', 'batch-a', 'batch-b'];
    await withTenant(shared, 'avocado', (trx) =>
      recordEvent(
        trx,
        'avocado',
        names.map((name, i) => ({ type: 'product.created', entityId: toGlobalId('avocado', name), payload: { name, detail: { i } } })),
      ),
    );
    const relay = createOutboxRelay({ transport, sharedUrl: databases.sharedUrl });
    await relay.drain();
    await relay.stop();
    const batch = () => received.filter((event) => String(event.payload.name).startsWith('batch-'));
    await eventually(() => batch().length === 3);
    expect(batch().map((event) => event.payload)).toEqual(names.map((name, i) => ({ name, detail: { i } })));
    expect(batch().map((event) => event.tenantId)).toEqual(['avocado', 'avocado', 'avocado']);
  });

  it('loses nothing and counts nothing twice when the relay dies after publishing, before marking sent', async () => {
    for (let i = 0; i < 3; i++) await createItem(shared, 'avocado', `crash-${i}`);
    // A relay whose process dies right after the transport stored the batch: nothing gets marked.
    const dying: EventTransport = {
      ...transport,
      async publish(events) {
        await transport.publish(events);
        throw new Error('killed');
      },
    };
    const first = createOutboxRelay({ transport: dying, sharedUrl: databases.sharedUrl });
    await first.drain();
    await first.stop();
    // The restarted relay publishes the same rows again.
    const second = createOutboxRelay({ transport, sharedUrl: databases.sharedUrl });
    expect(await second.drain()).toBe(3);
    await second.stop();
    await createItem(shared, 'avocado', 'crash-after');
    const third = createOutboxRelay({ transport, sharedUrl: databases.sharedUrl });
    await third.drain();
    await third.stop();
    await eventually(() => ofName('crash-after').length === 1);
    for (let i = 0; i < 3; i++) expect(ofName(`crash-${i}`)).toHaveLength(1);
  });

  it('publishes the unsent events a placement move carried to the new database, once', async () => {
    await createItem(shared, 'papaya', 'moved-1');
    await createItem(shared, 'papaya', 'moved-2');
    // papaya moves to a dedicated database before the relay ran: its rows, unsent events included, go along.
    const papayaUrl = await databases.addDedicated('papaya');
    const papaya = connect<Database>(papayaUrl);
    try {
      await copyTenantRows(shared as Kysely<unknown>, papaya as Kysely<unknown>, 'papaya');
      await deleteTenantRows(shared as Kysely<unknown>, 'papaya');
      await createItem(papaya, 'papaya', 'moved-3');
      const relay = createOutboxRelay({ transport, sharedUrl: databases.sharedUrl });
      expect(await relay.drain()).toBe(3);
      await relay.stop();
    } finally {
      await papaya.destroy();
    }
    await eventually(() => ofName('moved-3').length === 1);
    expect(received.filter((e) => e.tenantId === 'papaya').map((e) => e.payload.name)).toEqual(['moved-1', 'moved-2', 'moved-3']);
  });

  it("drains a dedicated tenant database's outbox like the shared one's, running on its own", async () => {
    const relay = createOutboxRelay({ transport, sharedUrl: databases.sharedUrl, pollMs: 100 });
    await relay.start();
    await createItem(mango, 'mango', 'dedicated');
    await createItem(shared, 'avocado', 'shared-live');
    await eventually(() => ofName('dedicated').length === 1 && ofName('shared-live').length === 1);
    await relay.stop();
    expect(ofName('dedicated')[0]).toMatchObject({ tenantId: 'mango', source: expect.stringMatching(/__mango$/) });
  });
});
