import type { Logger } from '@tenantgraph/core';
import { createPool, databaseNameOf, withDatabaseName } from '@tenantgraph/database';
import pg from 'pg';
import { type DomainEvent, type EventRow, rowToEvent } from './event.ts';
import { OUTBOX_CHANNEL } from './outbox.ts';
import type { EventTransport } from './transport.ts';
import { type WakeLoop, wakeLoop } from './wake-loop.ts';

export type RelayOptions = {
  transport: EventTransport;
  /** The service's shared database (its own login role): drained, and the dedicated ones found beside it. */
  sharedUrl: string;
  logger?: Logger;
  /** Rows taken per database and round. */
  batchSize?: number;
  /** How often every outbox is looked at without a notification (dedicated databases have none). */
  pollMs?: number;
  /** The longest wait after failures in a row (the wait doubles from 250 ms up to it). */
  maxBackoffMs?: number;
  /** How often the list of dedicated databases is read again. */
  discoverMs?: number;
  /**
   * How long a published row stays in its outbox (for an operator to look at); older ones are
   * deleted, at most once a minute per database. The transport keeps events for replay, not the outbox.
   */
  retainSentMs?: number;
  /** After each batch published: the events, in order (metrics). */
  onPublished?(events: readonly DomainEvent[]): void;
  /** After each round: the unsent rows left in each database (metrics). */
  onBacklog?(database: string, unsent: number): void;
};

export type OutboxRelay = {
  /** Starts draining in the background. */
  start(): Promise<void>;
  /** One round over every outbox, until each is empty or failing; resolves with how many events were published. */
  drain(): Promise<number>;
  /** Deletes, in every outbox, the rows published longer than `retainSentMs` ago; resolves with how many. */
  purge(): Promise<number>;
  /** Lets the round in progress finish (or roll back), then closes every connection. */
  stop(): Promise<void>;
};

type OutboxRow = EventRow;

/** One relay per database at a time: a second one (another replica) skips the round. */
const RELAY_LOCK = 7_340_212_002;

type Source = { name: string; pool: pg.Pool; failures: number; notBefore: number; purgedAt: number };

/** Published rows deleted per tenant and statement, so a purge never holds a long transaction. */
const PURGE_BATCH = 5_000;
const PURGE_EVERY_MS = 60_000;

/**
 * Publishes what the outboxes of a service's databases hold: its shared database and every
 * dedicated tenant database beside it (`<shared>__<tenant>`, found in the catalog), so rows
 * carried over by a placement move go out from their new home.
 *
 * Each round, per database, in one transaction: take the relay lock, read the oldest unsent rows
 * (only committed ones exist to it), publish each tenant's rows in order, mark those sent, commit.
 * A relay killed mid-round marks nothing of that round: the rows go out again on restart, and the
 * transport (and every consumer, by event id) drops the copy. A tenant whose publish fails keeps
 * its rows for the next round, after a backoff; other tenants go on.
 */
export function createOutboxRelay(options: RelayOptions): OutboxRelay {
  const { transport, logger } = options;
  const batchSize = options.batchSize ?? 200;
  const pollMs = options.pollMs ?? 1_000;
  const maxBackoffMs = options.maxBackoffMs ?? 30_000;
  const sharedName = databaseNameOf(options.sharedUrl);
  const sources = new Map<string, Source>();
  let discoveredAt = Number.NEGATIVE_INFINITY;
  let stopped = false;
  let loop: WakeLoop | undefined;
  let listener: pg.Client | undefined;

  const sourceFor = (name: string) => {
    let source = sources.get(name);
    if (!source) {
      const url = name === sharedName ? options.sharedUrl : withDatabaseName(options.sharedUrl, name);
      source = { name, pool: createPool(url, { max: 1, statementTimeoutMs: 30_000 }), failures: 0, notBefore: 0, purgedAt: 0 };
      sources.set(name, source);
    }
    return source;
  };

  /** The shared database and the dedicated ones this role may connect to. */
  const discover = async () => {
    const shared = sourceFor(sharedName);
    const { rows } = await shared.pool.query<{ name: string }>(
      `select datname as name from pg_database
        where datname like $1 escape '\\' and datallowconn and has_database_privilege(datname, 'connect')`,
      [`${sharedName.replaceAll('\\', '\\\\').replaceAll('_', '\\_').replaceAll('%', '\\%')}\\_\\_%`],
    );
    const names = new Set([sharedName, ...rows.map((row) => row.name)]);
    for (const name of names) sourceFor(name);
    for (const [name, source] of sources) {
      if (names.has(name)) continue;
      sources.delete(name);
      await source.pool.end().catch(() => {});
    }
    discoveredAt = Date.now();
  };

  /** Publishes one batch of `source`'s outbox: how many events went out, and whether the batch was full (more wait). */
  const drainBatch = async (source: Source): Promise<{ published: number; more: boolean }> => {
    const client = await source.pool.connect();
    let published = 0;
    let more = false;
    try {
      await client.query('begin');
      const { rows: locked } = await client.query<{ ok: boolean }>(
        `select pg_try_advisory_xact_lock($1) as ok, set_config('app.outbox_relay', 'on', true)`,
        [RELAY_LOCK],
      );
      if (!locked[0]!.ok) {
        await client.query('commit');
        return { published, more };
      }
      const { rows } = await client.query<OutboxRow>(
        `select tenant_id, id, type, entity_id, payload, occurred_at, source from event_outbox
          where sent_at is null order by occurred_at, seq limit ${batchSize}`,
      );
      more = rows.length === batchSize;
      const byTenant = new Map<string, OutboxRow[]>();
      for (const row of rows) byTenant.set(row.tenant_id, [...(byTenant.get(row.tenant_id) ?? []), row]);
      let failed: unknown;
      for (const [tenantId, tenantRows] of byTenant) {
        const events = tenantRows.map(rowToEvent);
        try {
          await transport.publish(events);
        } catch (error) {
          failed = error;
          continue;
        }
        await client.query(`select set_config('app.tenant_id', $1, true)`, [tenantId]);
        await client.query('update event_outbox set sent_at = now() where tenant_id = $1 and id = any($2::uuid[])', [
          tenantId,
          tenantRows.map((row) => row.id),
        ]);
        published += events.length;
        options.onPublished?.(events);
      }
      const { rows: left } = await client.query<{ unsent: number }>(
        'select count(*)::int8 as unsent from event_outbox where sent_at is null',
      );
      await client.query('commit');
      options.onBacklog?.(source.name, left[0]!.unsent);
      if (failed) throw failed;
      return { published, more };
    } catch (error) {
      await client.query('rollback').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  };

  /**
   * Deletes the rows published longer than `retainSentMs` ago, tenant by tenant (each delete in
   * that tenant's scope, like the relay's updates); unsent rows are never touched. How many went.
   */
  const purgeSent = async (source: Source): Promise<number> => {
    source.purgedAt = Date.now();
    const cutoff = new Date(Date.now() - (options.retainSentMs ?? 3_600_000));
    const client = await source.pool.connect();
    let purged = 0;
    try {
      await client.query(`select set_config('app.outbox_relay', 'on', false)`);
      // A row is sent after it occurred: one that occurred after the cutoff cannot have been sent before it.
      const { rows: tenants } = await client.query<{ tenant_id: string }>(
        'select distinct tenant_id from event_outbox where occurred_at < $1 and sent_at < $1',
        [cutoff],
      );
      for (const { tenant_id: tenantId } of tenants) {
        await client.query(`select set_config('app.tenant_id', $1, false)`, [tenantId]);
        for (;;) {
          const { rowCount } = await client.query(
            `delete from event_outbox where tenant_id = $1 and id in (
               select id from event_outbox where tenant_id = $1 and occurred_at < $2 and sent_at < $2 limit ${PURGE_BATCH})`,
            [tenantId, cutoff],
          );
          purged += rowCount ?? 0;
          if ((rowCount ?? 0) < PURGE_BATCH || stopped) break;
        }
      }
    } finally {
      // The settings were the session's: a connection that cannot be reset is closed, not pooled.
      const reset = await client.query(`select set_config('app.outbox_relay', '', false), set_config('app.tenant_id', '', false)`).then(
        () => true,
        () => false,
      );
      client.release(!reset);
    }
    return purged;
  };

  const round = async () => {
    if (Date.now() - discoveredAt > (options.discoverMs ?? 10_000)) await discover();
    let total = 0;
    for (const source of [...sources.values()]) {
      if (Date.now() < source.notBefore) continue;
      try {
        for (;;) {
          const { published, more } = await drainBatch(source);
          total += published;
          if (!more || stopped) break;
        }
        source.failures = 0;
        if (Date.now() - source.purgedAt >= PURGE_EVERY_MS) await purgeSent(source);
      } catch (error) {
        source.failures++;
        const backoff = Math.min(maxBackoffMs, 250 * 2 ** Math.min(source.failures - 1, 16));
        source.notBefore = Date.now() + backoff;
        logger?.warn('outbox relay: publishing failed; retrying', { database: source.name, backoffMs: backoff, error });
        // A database that is gone (dropped after a move) is found again, or not, at the next discovery.
        if ((error as { code?: string }).code === '3D000') discoveredAt = Number.NEGATIVE_INFINITY;
      }
    }
    return total;
  };

  /** LISTEN on the shared database: a commit with events wakes the relay at once (dedicated databases are polled). */
  const listen = async () => {
    const client = new pg.Client({ connectionString: options.sharedUrl });
    client.on('notification', () => loop?.wake());
    client.on('error', () => {
      if (listener === client) listener = undefined;
      void client.end().catch(() => {});
      if (!stopped) setTimeout(() => void listen().catch(() => {}), pollMs).unref();
    });
    await client.connect();
    await client.query(`listen ${OUTBOX_CHANNEL}`);
    listener = client;
  };

  return {
    drain: round,
    purge: async () => {
      let purged = 0;
      for (const source of [...sources.values()]) purged += await purgeSent(source);
      return purged;
    },
    async start() {
      await listen().catch((error: unknown) => logger?.warn('outbox relay: cannot listen; polling only', { error }));
      loop = wakeLoop(
        async () => {
          await round();
          return false;
        },
        pollMs,
        (error) => logger?.warn('outbox relay: round failed', { error }),
      );
    },
    async stop() {
      stopped = true;
      await loop?.stop();
      await listener?.end().catch(() => {});
      await Promise.all([...sources.values()].map((source) => source.pool.end().catch(() => {})));
      sources.clear();
    },
  };
}
