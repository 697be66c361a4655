import { fileURLToPath } from 'node:url';
import { isTenantId } from '@tenantgraph/core';
import { connect, createPool, migrateToLatest } from '@tenantgraph/database';
import pg from 'pg';
import { type EventRow, rowToEvent } from './event.ts';
import type { EventTransport, Subscription } from './transport.ts';
import { wakeLoop } from './wake-loop.ts';

/** The migrations of the events database (`events_db`) of the PostgreSQL transport. */
export const eventLogMigrationsFolder = fileURLToPath(new URL('../migrations', import.meta.url));

/** Brings an events database to the latest schema (the log, consumer positions, the wake-up trigger). */
export async function migrateEventLog(url: string): Promise<void> {
  const db = connect(url, { max: 1, statementTimeoutMs: 60_000 });
  try {
    await migrateToLatest(db, eventLogMigrationsFolder);
  } finally {
    await db.destroy();
  }
}

export type PostgresTransportOptions = {
  /** The events database (`EVENTS_DATABASE_URL`), migrated with `migrateEventLog`. */
  url: string;
  /** Connections for publishing and reading (each consumer and the listener hold one more). */
  poolSize?: number;
  /** How often readers look for new events when no notification came (a lost NOTIFY costs this much delay). */
  pollMs?: number;
  /** How long events stay in the log (replays reach this far back): 7 days, like the JetStream stream's `max_age`. */
  maxAgeMs?: number;
};

/** Log rows deleted per statement when the old ones go; old rows come first in `seq` order. */
const PURGE_BATCH = 5_000;
/** A publisher deletes the log's old rows at most this often (every relay publishes: any may). */
const PURGE_EVERY_MS = 3_600_000;

type LogRow = EventRow & { seq: number; redelivery: number };

const CHANNEL = 'event_log';
/** Appends to the log take turns (a transaction-level advisory lock), so `seq` order is commit order and no reader skips a late commit. */
const APPEND_LOCK = 7_340_212_001;
const COLUMNS = 'seq, id, redelivery, tenant_id, type, entity_id, payload, occurred_at, source';

/**
 * The transport on PostgreSQL itself, for a machine with no NATS: the events database holds an
 * append-only log (`event_log`, a republished id dropped by its unique key), each durable
 * consumer's position (`consumer_offset`), and a trigger whose NOTIFY wakes every reader at once.
 * One instance of a durable consumer runs at a time (a session advisory lock); another waits.
 */
export async function createPostgresTransport(options: PostgresTransportOptions): Promise<EventTransport> {
  const pollMs = options.pollMs ?? 1_000;
  const pool = createPool(options.url, { max: options.poolSize ?? 4, statementTimeoutMs: 30_000 });
  const listener = await wakeListener(options.url);
  const loops = new Set<Loop>();

  const maxAgeMs = options.maxAgeMs ?? 7 * 24 * 3_600_000;
  let purgedAt = 0;
  /** Deletes the events published longer than `maxAgeMs` ago, oldest first, in batches. */
  const purgeOld = async () => {
    purgedAt = Date.now();
    const cutoff = new Date(Date.now() - maxAgeMs);
    for (;;) {
      const { rowCount } = await pool.query(
        `delete from event_log where seq in (
           select seq from event_log where published_at < $1 order by seq limit ${PURGE_BATCH})`,
        [cutoff],
      );
      if ((rowCount ?? 0) < PURGE_BATCH) return;
    }
  };

  const read = async (from: number, where: string, params: unknown[], limit: number) =>
    (await pool.query<LogRow>(`select ${COLUMNS} from event_log where seq > $1 ${where} order by seq limit ${limit}`, [from, ...params]))
      .rows;

  const start = (loop: Loop) => {
    loops.add(loop);
    return {
      async close() {
        loops.delete(loop);
        await loop.stop();
      },
    } satisfies Subscription;
  };

  return {
    kind: 'postgres',
    async publish(events) {
      if (events.length === 0) return;
      const client = await pool.connect();
      try {
        await client.query('begin');
        await client.query('select pg_advisory_xact_lock($1)', [APPEND_LOCK]);
        const values: unknown[] = [];
        const rows = events.map((event, i) => {
          values.push(event.id, event.tenantId, event.type, event.entityId, JSON.stringify(event.payload), event.occurredAt, event.source);
          const at = i * 7;
          return `($${at + 1}, $${at + 2}, $${at + 3}, $${at + 4}, $${at + 5}::jsonb, $${at + 6}::timestamptz, $${at + 7})`;
        });
        await client.query(
          `insert into event_log (id, tenant_id, type, entity_id, payload, occurred_at, source) values ${rows.join(', ')}
             on conflict (id, redelivery) do nothing`,
          values,
        );
        await client.query('commit');
      } catch (error) {
        await client.query('rollback').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
      // The events are in the log whatever becomes of this: a failed purge is tried again next time.
      if (Date.now() - purgedAt >= PURGE_EVERY_MS) await purgeOld().catch(() => {});
    },

    async subscribe(scope, handler) {
      if (scope !== 'all' && !isTenantId(scope.tenantId)) throw new TypeError('subscribe needs a valid tenant id');
      const { rows } = await pool.query<{ last: number }>('select coalesce(max(seq), 0)::int8 as last from event_log');
      let position = rows[0]!.last;
      const [where, params] = scope === 'all' ? ['and redelivery = 0', []] : ['and redelivery = 0 and tenant_id = $2', [scope.tenantId]];
      return start(
        readLoop(listener, pollMs, async () => {
          const batch = await read(position, where, params, 500);
          for (const row of batch) {
            position = row.seq;
            try {
              handler(rowToEvent(row));
            } catch {
              // A live subscriber's failure is its own.
            }
          }
          return batch.length === 500;
        }),
      );
    },

    async consume(name, handler, consumeOptions = {}) {
      const created = await pool.query('insert into consumer_offset (name) values ($1) on conflict (name) do nothing', [name]);
      // A consumer that ran before may have handled events past its saved position (at least once).
      let resumed = created.rowCount === 0;
      // The session holding this consumer's lock: lost with its connection, taken again by whoever comes first.
      let session: pg.Client | undefined;
      let position = 0;
      let retrying = false;
      const lead = async () => {
        const next = new pg.Client({ connectionString: options.url });
        next.on('error', () => {
          if (session === next) session = undefined;
          void next.end().catch(() => {});
        });
        await next.connect();
        const { rows } = await next.query<{ ok: boolean }>('select pg_try_advisory_lock(hashtextextended($1, 0)) as ok', [
          `consumer:${name}`,
        ]);
        if (!rows[0]!.ok) {
          await next.end();
          return undefined;
        }
        retrying = resumed;
        resumed = true;
        position = (await next.query<{ position: number }>('select position from consumer_offset where name = $1', [name])).rows[0]!
          .position;
        return next;
      };
      const loop = readLoop(listener, pollMs, async () => {
        session ??= await lead();
        if (!session) return false;
        const batch = await read(position, '', [], 100);
        let acked = position;
        try {
          for (const row of batch) {
            const event = rowToEvent(row);
            try {
              await handler(event, { redelivered: row.redelivery > 0 || retrying });
            } catch (error) {
              consumeOptions.onError?.(error, event);
              retrying = true;
              await new Promise((resolve) => setTimeout(resolve, consumeOptions.retryDelayMs ?? 1_000));
              return true;
            }
            acked = row.seq;
          }
          retrying = false;
        } finally {
          if (acked > position) {
            await session.query('update consumer_offset set position = $2, updated_at = now() where name = $1', [name, acked]);
            position = acked;
          }
        }
        return batch.length === 100;
      });
      const running = start(loop);
      return {
        async close() {
          await running.close();
          await session?.end().catch(() => {});
        },
      };
    },

    async lag(name) {
      const { rows } = await pool.query<{ lag: number }>(
        `select (select count(*) from event_log where seq > coalesce((select position from consumer_offset where name = $1), 0))::int8 as lag`,
        [name],
      );
      return rows[0]!.lag;
    },

    async replay({ tenantId, since }) {
      const client = await pool.connect();
      try {
        await client.query('begin');
        await client.query('select pg_advisory_xact_lock($1)', [APPEND_LOCK]);
        const { rowCount } = await client.query(
          `insert into event_log (id, redelivery, tenant_id, type, entity_id, payload, occurred_at, source)
           select id, redelivery + 1, tenant_id, type, entity_id, payload, occurred_at, source
             from (select distinct on (id) * from event_log
                    where tenant_id = $1 and occurred_at >= $2 order by id, redelivery desc) latest
            order by latest.seq`,
          [tenantId, since],
        );
        await client.query('commit');
        return rowCount ?? 0;
      } catch (error) {
        await client.query('rollback').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },

    async close() {
      await Promise.all([...loops].map((loop) => loop.stop()));
      loops.clear();
      await listener.close();
      await pool.end().catch(() => {});
    },
  };
}

type Listener = { onWake(wake: () => void): () => void; close(): Promise<void> };

/** One LISTEN connection per transport, reconnecting after a loss; each notification wakes every reader. */
async function wakeListener(url: string): Promise<Listener> {
  const wakes = new Set<() => void>();
  let client: pg.Client | undefined;
  let closed = false;
  const open = async () => {
    const next = new pg.Client({ connectionString: url });
    next.on('notification', () => {
      for (const wake of wakes) wake();
    });
    next.on('error', () => {
      client = undefined;
      void next.end().catch(() => {});
      // Readers poll meanwhile; listening again soon.
      if (!closed) setTimeout(() => void open().catch(() => {}), 1_000).unref();
    });
    await next.connect();
    await next.query(`listen ${CHANNEL}`);
    client = next;
  };
  await open();
  return {
    onWake(wake) {
      wakes.add(wake);
      return () => wakes.delete(wake);
    },
    async close() {
      closed = true;
      await client?.end().catch(() => {});
    },
  };
}

type Loop = { stop(): Promise<void> };

/** `step` run whenever the log may have grown: on each notification, or every `pollMs`. */
function readLoop(listener: Listener, pollMs: number, step: () => Promise<boolean>): Loop {
  // A failed step (the database away, a statement refused) is tried again on the next wake.
  const loop = wakeLoop(step, pollMs);
  const unlisten = listener.onWake(loop.wake);
  return {
    async stop() {
      unlisten();
      await loop.stop();
    },
  };
}
