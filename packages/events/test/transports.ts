import { randomBytes } from 'node:crypto';
import { createServiceDatabases } from '@tenantgraph/testkit';
import { createNatsTransport, createPostgresTransport, type EventTransport, eventLogMigrationsFolder } from '../src/index.ts';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

export type TransportKind = 'nats' | 'postgres';

/** A transport of its own for one test file: a fresh NATS stream and subject prefix, or a fresh events database. */
export type TestTransport = {
  transport: EventTransport;
  /** Another instance on the same stream or database (a restarted process). */
  reopen(): Promise<EventTransport>;
  drop(): Promise<void>;
};

export async function openTestTransport(kind: TransportKind): Promise<TestTransport> {
  const run = randomBytes(4).toString('hex');
  if (kind === 'nats') {
    const stream = `TEST_EVENTS_${run}`;
    const open = () => createNatsTransport({ url: NATS_URL, stream, subjectPrefix: `test_${run}.tenant` });
    const transport = await open();
    return {
      transport,
      reopen: open,
      async drop() {
        await transport.close();
        const { connect } = await import('@nats-io/transport-node');
        const { jetstreamManager } = await import('@nats-io/jetstream');
        const nc = await connect({ servers: NATS_URL });
        await (await jetstreamManager(nc)).streams.delete(stream).catch(() => {});
        await nc.close();
      },
    };
  }
  const databases = await createServiceDatabases({ service: 'events', migrationsFolder: eventLogMigrationsFolder });
  const open = () => createPostgresTransport({ url: databases.sharedUrl, pollMs: 200 });
  const transport = await open();
  return {
    transport,
    reopen: open,
    async drop() {
      await transport.close();
      await databases.drop();
    },
  };
}

/** Resolves once `check` holds, polling; fails the test after `ms`. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
