// `pnpm bench --events`: events per second the outbox relay publishes and a durable consumer takes,
// on the PostgreSQL transport and, when NATS_URL is set, on NATS JetStream; written to BENCHMARKS.md.
import { randomBytes, randomUUID } from 'node:crypto';
import { connect, migrateToLatest, withTenant } from '@tenantgraph/database';
import { dropDatabase, ensureDatabase, urlFor } from '@tenantgraph/devkit';
import {
  createNatsTransport,
  createOutboxRelay,
  createPostgresTransport,
  deleteNatsStream,
  type EventTransport,
  eventLogMigrationsFolder,
  type OutboxDatabase,
  recordEvent,
} from '@tenantgraph/events';
import { migrationsFolder as productMigrations } from '@tenantgraph/product/migrations';
import { writeSection } from './sections.ts';

const TENANTS = ['avocado', 'mango', 'papaya', 'kiwi'];

/** Writes `count` events (one per transaction, tenants in turn), then times the relay draining them and the consumer taking them. */
export async function eventsBench(adminUrl: string, count: number, log: (line: string) => void) {
  const suffix = randomBytes(3).toString('hex');
  const cleanups: (() => Promise<void>)[] = [];
  const database = async (name: string, folder: string) => {
    const role = { name: `bench_${name}_${suffix}`, password: randomBytes(12).toString('hex') };
    const db = `bench_${name}_${suffix}`;
    await ensureDatabase(adminUrl, db, role);
    cleanups.push(() => dropDatabase(adminUrl, db));
    const url = urlFor(adminUrl, db, role);
    const migrator = connect(url, { max: 1 });
    await migrateToLatest(migrator, folder).finally(() => migrator.destroy());
    return url;
  };
  /** Writes `count` events to a fresh outbox, then times the relay publishing them on `kind` and a consumer taking them. */
  const measure = async (kind: 'postgres' | 'nats') => {
    const outboxUrl = await database(`outbox_${kind}`, productMigrations);
    let transport: EventTransport;
    if (kind === 'nats') {
      const stream = `BENCH_EVENTS_${suffix}`;
      transport = await createNatsTransport({ url: process.env.NATS_URL!, stream, subjectPrefix: `bench_${suffix}.tenant` });
      cleanups.push(() => deleteNatsStream(process.env.NATS_URL!, stream));
    } else {
      transport = await createPostgresTransport({ url: await database('events', eventLogMigrationsFolder) });
    }
    log(`writing ${count} events to the outbox (${transport.kind} transport)`);
    const db = connect<OutboxDatabase>(outboxUrl, { max: 8 });
    for (let i = 0; i < count; i += 8) {
      await Promise.all(
        Array.from({ length: Math.min(8, count - i) }, (_, j) => {
          const tenantId = TENANTS[(i + j) % TENANTS.length]!;
          return withTenant(db, tenantId, (trx) =>
            recordEvent(trx, tenantId, { type: 'product.created', entityId: `${tenantId}:${randomUUID()}`, payload: { n: i + j } }),
          );
        }),
      );
    }
    await db.destroy();

    const relay = createOutboxRelay({ transport, sharedUrl: outboxUrl, batchSize: 500 });
    const relayStart = performance.now();
    let published = 0;
    while (published < count) published += await relay.drain();
    const relaySeconds = (performance.now() - relayStart) / 1000;
    await relay.stop();

    let consumed = 0;
    const consumerStart = performance.now();
    let allConsumed = () => {};
    const done = new Promise<void>((resolve) => {
      allConsumed = resolve;
    });
    const consumer = await transport.consume('bench_sync', async () => {
      if (++consumed === count) allConsumed();
    });
    await done;
    const consumerSeconds = (performance.now() - consumerStart) / 1000;
    await consumer.close();
    await transport.close();
    const rate = (n: number, s: number) => Math.round(n / s);
    return `| ${transport.kind} | ${count} | ${rate(published, relaySeconds)} | ${rate(consumed, consumerSeconds)} |`;
  };
  try {
    const rows = [await measure('postgres')];
    if (process.env.NATS_URL) rows.push(await measure('nats'));
    else log('NATS_URL unset: the PostgreSQL transport only');
    const text = [
      `${count} events over ${TENANTS.length} tenants, one per transaction, then drained by the relay (batches of 500, each`,
      "published in its tenant's order and marked sent in the transaction that read it), then taken by a durable consumer",
      '(one at a time, each acknowledged). Relay and consumer run alone, without the services.',
      '',
      '| transport | events | relay events/s | consumer events/s |',
      '| --- | ---: | ---: | ---: |',
      ...rows,
    ].join('\n');
    console.log(`\n${text}\n`);
    await writeSection('## Domain events', text);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  }
}
