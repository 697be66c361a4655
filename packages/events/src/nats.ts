import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  StorageType,
} from '@nats-io/jetstream';
import { connect, headers, nanos } from '@nats-io/transport-node';
import { isTenantId } from '@tenantgraph/core';
import { type DomainEvent, parseEvent, subjectOf } from './event.ts';
import type { ConsumeOptions, EventHandler, EventScope, EventTransport, Subscription } from './transport.ts';

export type NatsTransportOptions = {
  /** e.g. `nats://127.0.0.1:4222` (`NATS_URL`). */
  url: string;
  /** The JetStream stream holding the events; created when missing. */
  stream?: string;
  /**
   * The first subject token: events go to `<prefix>.<tenantId>.<entity>.<event>`. Always
   * `tenant` in the platform; tests give each run its own, since two streams may not share subjects.
   */
  subjectPrefix?: string;
  /** A name the server shows for this connection. */
  name?: string;
  /** How long a republished event id is recognised as a duplicate (JetStream's duplicate window). */
  duplicateWindowMs?: number;
  /** How long events are kept in the stream (replays reach this far back). */
  maxAgeMs?: number;
};

export const DEFAULT_STREAM = 'TENANT_EVENTS';
/** Replayed copies carry this header: durable consumers count them once (by event id), live subscribers skip them. */
const REPLAY_HEADER = 'Tenantgraph-Replay';

/**
 * The transport on NATS JetStream: one stream (created if missing) over `tenant.>`, each event
 * on `tenant.<tenantId>.<entity>.<event>` with its id as the message id, so JetStream drops a
 * republish inside the duplicate window. Durable consumers are JetStream durable pull consumers
 * with explicit acks; live subscriptions are ordered consumers starting at the newest message.
 */
export async function createNatsTransport(options: NatsTransportOptions): Promise<EventTransport> {
  const stream = options.stream ?? DEFAULT_STREAM;
  const prefix = options.subjectPrefix ?? 'tenant';
  const nc = await connect({ servers: options.url, name: options.name ?? 'tenantgraph-events', maxReconnectAttempts: -1 });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await ensureStream(jsm, stream, `${prefix}.>`, options);
  const subjectFor = (event: DomainEvent) => `${prefix}.${subjectOf(event).slice('tenant.'.length)}`;
  const open = new Set<{ stop(): void }>();

  return {
    kind: 'nats',
    async publish(events) {
      // One at a time: a failure leaves no later event of the batch stored ahead of it.
      for (const event of events) {
        await js.publish(subjectFor(event), JSON.stringify(event), { msgID: event.id });
      }
    },

    async subscribe(scope, handler) {
      const consumer = await js.consumers.get(stream, {
        filter_subjects: filterOf(prefix, scope),
        deliver_policy: DeliverPolicy.New,
      });
      const messages = await consumer.consume();
      const running = { stop: () => messages.stop() };
      open.add(running);
      void (async () => {
        for await (const message of messages) {
          if (message.headers?.has(REPLAY_HEADER)) continue;
          try {
            handler(parseEvent(message.json()));
          } catch {
            // A live subscriber's failure is its own; the stream goes on.
          }
        }
      })();
      return closer(open, running);
    },

    async consume(name, handler, consumeOptions = {}) {
      await ensureDurable(jsm, stream, name, `${prefix}.>`);
      const consumer = await js.consumers.get(stream, name);
      const messages: ConsumerMessages = await consumer.consume({ max_messages: 100 });
      const running = { stop: () => messages.stop() };
      open.add(running);
      void (async () => {
        for await (const message of messages) await handleDurable(message, handler, consumeOptions);
      })();
      return closer(open, running);
    },

    async lag(name) {
      try {
        const info = await jsm.consumers.info(stream, name);
        return info.num_pending + info.num_ack_pending;
      } catch {
        // A consumer not created yet has everything in the stream ahead of it.
        return (await jsm.streams.info(stream)).state.messages;
      }
    },

    async replay({ tenantId, since }) {
      const last = (await jsm.streams.info(stream)).state.last_seq;
      const consumer = await js.consumers.get(stream, {
        filter_subjects: filterOf(prefix, { tenantId }),
        deliver_policy: DeliverPolicy.StartTime,
        opt_start_time: since.toISOString(),
      });
      const stamp = Date.now();
      let sent = 0;
      try {
        for (;;) {
          const batch = await consumer.fetch({ max_messages: 200, expires: 1_000 });
          let seen = 0;
          let done = false;
          for await (const message of batch) {
            seen++;
            if (message.seq > last) done = true;
            if (done || message.headers?.has(REPLAY_HEADER)) continue;
            const event = parseEvent(message.json());
            const replay = headers();
            replay.set(REPLAY_HEADER, String(stamp));
            // A fresh message id, so the duplicate window does not drop it; consumers dedupe on the event id.
            await js.publish(message.subject, message.data, { msgID: `${event.id}.replay.${stamp}`, headers: replay });
            sent++;
            if (message.seq >= last) done = true;
          }
          if (done || seen === 0) break;
        }
      } finally {
        await consumer.delete().catch(() => {});
      }
      return sent;
    },

    async close() {
      for (const running of open) running.stop();
      open.clear();
      await nc.drain().catch(() => nc.close());
    },
  };
}

async function ensureStream(jsm: JetStreamManager, name: string, subject: string, options: NatsTransportOptions) {
  try {
    await jsm.streams.info(name);
  } catch {
    await jsm.streams
      .add({
        name,
        subjects: [subject],
        storage: StorageType.File,
        duplicate_window: nanos(options.duplicateWindowMs ?? 2 * 60_000),
        max_age: nanos(options.maxAgeMs ?? 7 * 24 * 3_600_000),
      })
      .catch(async (error: unknown) => {
        // Another process created it meanwhile.
        await jsm.streams.info(name).catch(() => {
          throw error;
        });
      });
  }
}

async function ensureDurable(jsm: JetStreamManager, stream: string, name: string, subject: string) {
  try {
    await jsm.consumers.info(stream, name);
  } catch {
    await jsm.consumers.add(stream, {
      durable_name: name,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: subject,
      ack_wait: nanos(30_000),
      max_ack_pending: 1_000,
    });
  }
}

/** One message to a durable handler: ack on success (waiting for the server's confirmation), nak with a delay on failure. */
async function handleDurable(message: JsMsg, handler: EventHandler, options: ConsumeOptions) {
  let event: DomainEvent | undefined;
  try {
    event = parseEvent(message.json());
  } catch (error) {
    // Not an event: delivering it again would never succeed.
    options.onError?.(error, undefined);
    message.term('not a domain event');
    return;
  }
  try {
    await handler(event, { redelivered: message.redelivered || (message.headers?.has(REPLAY_HEADER) ?? false) });
    await message.ackAck().catch(() => false);
  } catch (error) {
    options.onError?.(error, event);
    message.nak(options.retryDelayMs ?? 1_000);
  }
}

function filterOf(prefix: string, scope: EventScope) {
  if (scope !== 'all' && !isTenantId(scope.tenantId)) throw new TypeError('subscribe needs a valid tenant id');
  return scope === 'all' ? `${prefix}.>` : `${prefix}.${scope.tenantId}.>`;
}

function closer(open: Set<{ stop(): void }>, running: { stop(): void }): Subscription {
  return {
    async close() {
      running.stop();
      open.delete(running);
    },
  };
}
