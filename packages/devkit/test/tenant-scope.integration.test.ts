import { connect, createPool, type Deadline, kyselyOver, sendWithCommit, snapshotReads, withTenant } from '@tenantgraph/database';
import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchDatabase } from './scratch-database.ts';

// withTenant sends a read and its tenant's settings as one pipeline of prepared statements: these
// tests hold that every value comes back as it went in, that the tenant setting ends with each unit
// of work, and that the prepared statements are reused, bounded and survive a failed read.

const scratch = scratchDatabase('t_scope', (client) =>
  client.query(`create table note (tenant_id text not null, body text not null, tags text[] not null, at timestamptz not null, data jsonb);
    alter table note enable row level security; alter table note force row level security;
    create policy tenant_isolation on note using (tenant_id = current_setting('app.tenant_id', true)) with check (tenant_id = current_setting('app.tenant_id', true))`),
);
type Database = { note: { tenant_id: string; body: string; tags: string[]; at: Date; data: unknown } };
let db: Kysely<Database>;
let statements = 0;

beforeAll(() => {
  db = connect<Database>(scratch.url, { max: 1, onQuery: () => statements++ });
});

afterAll(() => db?.destroy());

const note = (tenant: string, body: string) => ({ tenant_id: tenant, body, tags: [], at: new Date(), data: null });

/** A Kysely over one connection whose messages (each one the client sends and waits for) are counted. */
function countingWriter() {
  const pool = createPool(scratch.url, { max: 1 });
  let messages = 0;
  const counted = new WeakSet<object>();
  const counting = {
    connect: async () => {
      const client = await pool.connect();
      if (counted.has(client)) return client;
      counted.add(client);
      const query = client.query;
      client.query = ((...args: Parameters<typeof query>) => {
        messages++;
        return query.apply(client, args);
      }) as typeof query;
      return client;
    },
    end: () => pool.end(),
  };
  return { writer: kyselyOver<Database>(counting), messages: () => messages };
}

const STRANGE = ["it's", 'back\\slash', "\\' or 1=1 --", "'); drop table note; --", 'é ✓ 🥑', '$1 $$ $tag$', ''];

describe('withTenant', () => {
  it('reads back every value it wrote, whatever quotes, backslashes or dollars it holds', async () => {
    const at = new Date('2026-11-22T10:00:00.123Z');
    for (const body of STRANGE) {
      await withTenant(db, 'alpha', (trx) =>
        trx
          .insertInto('note')
          .values({ tenant_id: 'alpha', body, tags: [body, 'x"y'], at, data: { body } })
          .execute(),
      );
      const rows = await withTenant(db, 'alpha', (trx) =>
        trx
          .selectFrom('note')
          .selectAll()
          .where('body', '=', body)
          .where('tags', '@>', sql.val([body]))
          .where('at', '=', at)
          .execute(),
      );
      expect(rows).toEqual([{ tenant_id: 'alpha', body, tags: [body, 'x"y'], at, data: { body } }]);
    }
    const count = await withTenant(db, 'alpha', (trx) =>
      trx
        .selectFrom('note')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirst(),
    );
    expect(count?.n).toBe(STRANGE.length);
  });

  it('refuses a value holding NUL (PostgreSQL does), and the connection reads on', async () => {
    await expect(
      withTenant(db, 'alpha', (trx) => trx.selectFrom('note').selectAll().where('body', '=', 'a\u0000b').execute()),
    ).rejects.toThrow(/0x00/);
    const rows = await withTenant(db, 'alpha', (trx) => trx.selectFrom('note').select('body').where('body', '=', "it's").execute());
    expect(rows).toEqual([{ body: "it's" }]);
  });

  it('refuses a value it cannot send before writing anything: the connection reads on', async () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await expect(
      withTenant(db, 'alpha', (trx) =>
        trx
          .selectFrom('note')
          .selectAll()
          .where('data', '=', circular as never)
          .execute(),
      ),
    ).rejects.toThrow(/circular/i);
    // The pool holds one connection: a pipeline left without its Sync would hang this read.
    const rows = await withTenant(db, 'alpha', (trx) => trx.selectFrom('note').select('body').where('body', '=', "it's").execute());
    expect(rows).toEqual([{ body: "it's" }]);
  });

  it('prepares each read once per connection: one statement for a list of any length', async () => {
    const prepared = async () => {
      // The pool holds one connection: this unit sees the statements the reads prepared on it.
      const { rows } = await sql<{ statement: string }>`select statement from pg_prepared_statements`.execute(db);
      return rows.map((row) => row.statement);
    };
    const before = await prepared();
    for (const length of [1, 2, 3, 7, 20, 1, 2]) {
      const bodies = STRANGE.slice(0, Math.min(length, STRANGE.length));
      const rows = await withTenant(db, 'alpha', (trx) => trx.selectFrom('note').select('body').where('body', 'in', bodies).execute());
      expect(rows.map((row) => row.body).sort()).toEqual([...new Set(bodies)].sort());
    }
    // Another tenant's read runs the same statement, and sees none of alpha's rows.
    expect(await withTenant(db, 'beta', (trx) => trx.selectFrom('note').select('body').where('body', 'in', ["it's"]).execute())).toEqual(
      [],
    );
    const added = (await prepared()).filter((statement) => !before.includes(statement));
    expect(added).toEqual([expect.stringMatching(/"body" = any\(\$1\)/)]);
  });

  it('plans each prepared read once: every later execution reuses its generic plan', async () => {
    const text = '"body" >= $1';
    for (const from of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) {
      await withTenant(db, 'alpha', (trx) => trx.selectFrom('note').select('body').where('body', '>=', from).execute());
    }
    const { rows } = await sql<{ generic: number; custom: number }>`select generic_plans::int as generic, custom_plans::int as custom
      from pg_prepared_statements where statement like ${`%${text}%`}`.execute(db);
    // PostgreSQL's default (plan_cache_mode = auto) would have planned the first five for their values.
    expect(rows).toEqual([{ generic: 7, custom: 0 }]);
  });

  it('keeps at most 200 prepared statements on a connection, the least recently used closed first', async () => {
    for (let i = 0; i < 230; i++) {
      const [row] = await withTenant(db, 'alpha', (trx) => trx.selectNoFrom(sql<number>`${i}::int`.as(`n${i}`)).execute());
      expect(Object.values(row ?? {})).toEqual([i]);
    }
    const { rows } = await sql<{ count: number }>`select count(*)::int as count from pg_prepared_statements`.execute(db);
    expect(rows[0]?.count).toBe(200);
  });

  it('sends a read as one statement, and leaves no tenant on the connection after it', async () => {
    await withTenant(db, 'beta', (trx) =>
      trx.insertInto('note').values({ tenant_id: 'beta', body: 'b', tags: [], at: new Date(), data: null }).execute(),
    );
    const before = statements;
    const rows = await withTenant(db, 'beta', (trx) => trx.selectFrom('note').select('body').execute());
    expect(statements - before).toBe(1);
    expect(rows).toEqual([{ body: 'b' }]);
    const left = await sql<{ tenant: string | null }>`select current_setting('app.tenant_id', true) as tenant`.execute(db);
    expect(left.rows[0]?.tenant ?? '').toBe('');
    expect((await db.selectFrom('note').selectAll().execute()).length).toBe(0);
  });

  it('keeps a unit of writes in one transaction: a failure half way leaves nothing', async () => {
    const failing = withTenant(db, 'gamma', async (trx) => {
      await trx.selectFrom('note').selectAll().execute();
      await trx.insertInto('note').values({ tenant_id: 'gamma', body: 'first', tags: [], at: new Date(), data: null }).execute();
      await trx
        .insertInto('note')
        .values({ tenant_id: 'other', body: 'refused by the policy', tags: [], at: new Date(), data: null })
        .execute();
    });
    await expect(failing).rejects.toThrow(/row-level security/);
    expect(await withTenant(db, 'gamma', (trx) => trx.selectFrom('note').selectAll().execute())).toEqual([]);
  });

  it("sends a unit's first write behind its begin and settings in one round trip; one failing there leaves nothing", async () => {
    const { writer, messages } = countingWriter();
    try {
      await withTenant(writer, 'delta', async (trx) => {
        await trx.insertInto('note').values(note('delta', 'one')).execute();
        await trx.insertInto('note').values(note('delta', 'two')).execute();
      });
      // The first insert with its begin and settings, the second insert, the commit.
      expect(messages()).toBe(3);
      const refused = withTenant(writer, 'delta', (trx) => trx.insertInto('note').values(note('other', 'refused')).execute());
      await expect(refused).rejects.toThrow(/row-level security/);
      const bodies = await withTenant(writer, 'delta', (trx) => trx.selectFrom('note').select('body').orderBy('body').execute());
      expect(bodies).toEqual([{ body: 'one' }, { body: 'two' }]);
    } finally {
      await writer.destroy();
    }
  });

  it('sends a statement held for the commit with it, in one round trip; a rollback never sends it; one that fails leaves nothing', async () => {
    const { writer, messages } = countingWriter();
    const held = (trx: Kysely<Database>, tenant: string, body: string) => {
      const compiled = trx.insertInto('note').values(note(tenant, body)).compile();
      sendWithCommit(compiled.queryId);
      return trx.executeQuery(compiled);
    };
    try {
      await withTenant(writer, 'epsilon', async (trx) => {
        await trx.insertInto('note').values(note('epsilon', 'first')).execute();
        expect((await held(trx, 'epsilon', 'held')).rows).toEqual([]);
      });
      // The first insert with its begin and settings; the held insert with the commit.
      expect(messages()).toBe(2);
      const failing = withTenant(writer, 'epsilon', async (trx) => {
        await trx.insertInto('note').values(note('epsilon', 'rolled back')).execute();
        await held(trx, 'epsilon', 'never sent');
        throw new Error('a later step failed');
      });
      await expect(failing).rejects.toThrow('a later step failed');
      // The insert and the rollback: the held statement never went out.
      expect(messages()).toBe(4);
      const refusedAtCommit = withTenant(writer, 'epsilon', async (trx) => {
        await trx.insertInto('note').values(note('epsilon', 'refused with its unit')).execute();
        await held(trx, 'other', 'refused');
      });
      await expect(refusedAtCommit).rejects.toThrow(/row-level security/);
      // The connection (the pool's only one) reads on, and only the first unit's rows are there.
      const bodies = await withTenant(writer, 'epsilon', (trx) => trx.selectFrom('note').select('body').orderBy('body').execute());
      expect(bodies).toEqual([{ body: 'first' }, { body: 'held' }]);
    } finally {
      await writer.destroy();
    }
  });

  it("bounds a unit's statements by the time its request has left, or by the connection's own timeout when lower", async () => {
    const shortTimeout = connect<Database>(scratch.url, { max: 1, statementTimeoutMs: 300 });
    const timeout = (source: Kysely<Database>, deadline: Deadline) =>
      withTenant(
        source,
        'alpha',
        async (trx) => ({
          read: (await trx.selectNoFrom(sql<string>`current_setting('statement_timeout')`.as('t')).executeTakeFirstOrThrow()).t,
          write: (await sql<{ t: string }>`select current_setting('statement_timeout') as t for update`.execute(trx)).rows[0]?.t,
        }),
        deadline,
      );
    const deadline = (ms: number) => ({ at: Date.now() + ms, signal: new AbortController().signal });
    try {
      expect(await timeout(shortTimeout, deadline(10_000))).toEqual({ read: '300ms', write: '300ms' });
      const left = await timeout(shortTimeout, deadline(200));
      for (const value of Object.values(left)) expect(Number.parseInt(value ?? '', 10)).toBeLessThanOrEqual(200);
      // The default connection's own is 5 s: the time left wins.
      const own = await timeout(db, deadline(2_000));
      for (const value of Object.values(own)) expect(Number.parseInt(value ?? '', 10)).toBeLessThanOrEqual(2_000);
    } finally {
      await shortTimeout.destroy();
    }
  });

  it('runs each plain read as its own transaction, and every read of a snapshot in one', async () => {
    const startedAt = (trx: Kysely<Database>) =>
      trx.selectNoFrom(sql<string>`transaction_timestamp()::text`.as('at')).executeTakeFirstOrThrow();
    const twice = (source: Kysely<Database>) =>
      withTenant(source, 'alpha', async (trx) => {
        const first = await startedAt(trx);
        await new Promise((resolve) => setTimeout(resolve, 20));
        return [first.at, (await startedAt(trx)).at];
      });
    const [a, b] = await twice(db);
    expect(a).not.toBe(b);
    const [c, d] = await twice(snapshotReads(db));
    expect(c).toBe(d);
  });
});
