import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainEvent, EventTransport, EventType } from '../src/index.ts';
import { eventually, openTestTransport, type TestTransport, type TransportKind } from './transports.ts';

const event = (tenantId: string, type: EventType = 'product.created'): DomainEvent => ({
  id: randomUUID(),
  tenantId,
  type,
  entityId: `${tenantId}:${randomUUID()}`,
  payload: { name: 'Tea' },
  occurredAt: new Date().toISOString(),
  source: 'product_db',
});

describe.each<TransportKind>(['nats', 'postgres'])('the %s transport', (kind) => {
  let opened: TestTransport;
  let transport: EventTransport;
  beforeAll(async () => {
    opened = await openTestTransport(kind);
    transport = opened.transport;
  });
  afterAll(() => opened?.drop());

  it("delivers a tenant's events live to that tenant's subscribers only, in order", async () => {
    const avocado: DomainEvent[] = [];
    const all: DomainEvent[] = [];
    const a = await transport.subscribe({ tenantId: 'avocado' }, (e) => avocado.push(e));
    const b = await transport.subscribe('all', (e) => all.push(e));
    const sent = [event('avocado'), event('mango', 'order.placed'), event('avocado', 'order.cancelled')];
    await transport.publish(sent);
    await eventually(() => avocado.length === 2 && all.length === 3);
    expect(avocado.map((e) => e.id)).toEqual([sent[0]!.id, sent[2]!.id]);
    expect(all.map((e) => e.id)).toEqual(sent.map((e) => e.id));
    expect(avocado[0]).toEqual(sent[0]);
    await Promise.all([a.close(), b.close()]);
  });

  it('refuses a subscription scope that is not a tenant id', async () => {
    await expect(transport.subscribe({ tenantId: 'a.>' }, () => {})).rejects.toThrow(/tenant id/);
  });

  it('hands a durable consumer each event once, drops a republished id, and resumes after a restart', async () => {
    const name = `durable_${randomUUID().slice(0, 8)}`;
    const first = [event('avocado'), event('mango')];
    await transport.publish(first);
    // The relay republishing after a crash: same ids.
    await transport.publish(first);
    const seen: string[] = [];
    const consumer = await transport.consume(name, async (e) => {
      seen.push(e.id);
    });
    await eventually(() => seen.length >= 2);
    await eventually(async () => (await transport.lag(name)) === 0);
    await consumer.close();

    const second = [event('avocado', 'task.created')];
    await transport.publish(second);
    expect(await transport.lag(name)).toBe(1);
    // Another process, the same consumer name: it starts where the first one stopped.
    const restarted = await opened.reopen();
    const again: string[] = [];
    const resumed = await restarted.consume(name, async (e) => {
      again.push(e.id);
    });
    await eventually(() => again.length >= 1);
    await resumed.close();
    await restarted.close();
    expect(seen.filter((id) => first.some((e) => e.id === id))).toEqual(first.map((e) => e.id));
    expect(new Set(seen).size).toBe(seen.length);
    expect(again.filter((id) => id === second[0]!.id)).toHaveLength(1);
    expect(again.filter((id) => first.some((e) => e.id === id))).toEqual([]);
  });

  it('delivers an event again, marked redelivered, when its handler failed', async () => {
    const name = `retry_${randomUUID().slice(0, 8)}`;
    const consumerStart = await transport.lag(name);
    const sent = event('avocado', 'order.placed');
    let failures = 0;
    const deliveries: { id: string; redelivered: boolean }[] = [];
    const consumer = await transport.consume(
      name,
      async (e, delivery) => {
        if (e.id !== sent.id) return;
        deliveries.push({ id: e.id, redelivered: delivery.redelivered });
        if (failures++ === 0) throw new Error('the analytics database is away');
      },
      { retryDelayMs: 100 },
    );
    await transport.publish([sent]);
    await eventually(() => deliveries.length === 2);
    await eventually(async () => (await transport.lag(name)) === 0);
    await consumer.close();
    expect(consumerStart).toBeGreaterThanOrEqual(0);
    expect(deliveries).toEqual([
      { id: sent.id, redelivered: false },
      { id: sent.id, redelivered: true },
    ]);
  });

  it("replays one tenant's events since a time to durable consumers, not to live subscribers", async () => {
    const since = new Date(Date.now() - 1_000);
    const sent = [event('kiwi'), event('kiwi', 'project.created'), event('lime')];
    await transport.publish(sent);
    const name = `replay_${randomUUID().slice(0, 8)}`;
    const seen: { id: string; redelivered: boolean }[] = [];
    const consumer = await transport.consume(name, async (e, delivery) => {
      if (e.tenantId === 'kiwi') seen.push({ id: e.id, redelivered: delivery.redelivered });
    });
    await eventually(() => seen.length === 2);
    const live: DomainEvent[] = [];
    const subscription = await transport.subscribe({ tenantId: 'kiwi' }, (e) => live.push(e));
    expect(await transport.replay({ tenantId: 'kiwi', since })).toBe(2);
    await eventually(() => seen.length === 4);
    await subscription.close();
    await consumer.close();
    expect(seen.slice(2)).toEqual([
      { id: sent[0]!.id, redelivered: true },
      { id: sent[1]!.id, redelivered: true },
    ]);
    expect(live).toEqual([]);
  });
});
