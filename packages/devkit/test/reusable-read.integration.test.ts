import { connect, createdAtKeyset, reusableRead, withTenant } from '@tenantgraph/database';
import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchDatabase } from './scratch-database.ts';

// reusableRead builds and compiles a statement once per shape and sends it with each call's values:
// these tests hold that every call reads what Kysely would have read, for its own tenant only, and
// that a read breaking the contract fails at once.

type Database = {
  item: { tenant_id: string; id: string; kind: string; rank: number; created_at: Date };
  other_item: { tenant_id: string; id: string; kind: string; rank: number; created_at: Date };
};
let db: Kysely<Database>;
let statements = 0;

const scratch = scratchDatabase('t_reuse', async (client) => {
  for (const table of ['item', 'other_item']) {
    await client.query(`create table ${table} (tenant_id text not null, id text not null, kind text not null, rank int not null, created_at timestamptz not null);
      alter table ${table} enable row level security; alter table ${table} force row level security;
      create policy tenant_isolation on ${table} using (tenant_id = current_setting('app.tenant_id', true))`);
  }
  for (const tenant of ['alpha', 'beta']) {
    await client.query(`select set_config('app.tenant_id', $1, false)`, [tenant]);
    for (let i = 1; i <= 6; i++) {
      const values = [tenant, `${tenant}-${i}`, i % 2 ? 'odd' : 'even', i, new Date(Date.UTC(2026, 0, i)).toISOString()];
      await client.query('insert into item values ($1, $2, $3, $4, $5)', values);
      await client.query('insert into other_item values ($1, $2, $3, $4, $5)', [...values.slice(0, 3), i * 10, values[4]]);
    }
  }
});

beforeAll(() => {
  db = connect<Database>(scratch.url, { max: 1, onQuery: () => statements++ });
});

afterAll(() => db?.destroy());

describe('reusableRead', () => {
  it('builds a shape once and reads each call with its own values, for its own tenant only', async () => {
    let builds = 0;
    const byIds = reusableRead((trx: Kysely<Database>, tenantId: string, ids: readonly string[]) => {
      builds++;
      return trx.selectFrom('item').select(['id', 'rank']).where('tenant_id', '=', tenantId).where('id', 'in', ids).orderBy('rank');
    });
    for (let round = 0; round < 5; round++) {
      for (const tenant of ['alpha', 'beta']) {
        const ids = [1, 3, 5].slice(0, 1 + (round % 3)).map((i) => `${tenant}-${i}`);
        // The other tenant's ids too: row-level security still hides them.
        const other = tenant === 'alpha' ? 'beta-1' : 'alpha-1';
        const rows = await withTenant(db, tenant, (trx) => byIds(trx, tenant, [...ids, other]));
        expect(rows.map((row) => row.id)).toEqual(ids);
      }
    }
    expect(builds).toBe(1);
  });

  it('gives each shape (a filter set or not, a flag) its statement, and reads as Kysely would', async () => {
    let builds = 0;
    type Page = { limit: number; after?: [string, string] | undefined; kind?: string | undefined; withTotal?: boolean };
    const page = reusableRead((trx: Kysely<Database>, tenantId: string, page: Page) => {
      builds++;
      let query = trx.selectFrom('item').select(['id']).where('tenant_id', '=', tenantId);
      if (page.kind) query = query.where('kind', '=', page.kind);
      query = query.$call(createdAtKeyset(page));
      return page.withTotal ? query.select(sql<number>`count(*) over ()`.as('total')) : query;
    });
    const direct = (tenantId: string, p: Page) =>
      withTenant(db, tenantId, (trx) => {
        let query = trx.selectFrom('item').select(['id']).where('tenant_id', '=', tenantId);
        if (p.kind) query = query.where('kind', '=', p.kind);
        query = query.$call(createdAtKeyset(p));
        return (p.withTotal ? query.select(sql<number>`count(*) over ()`.as('total')) : query).execute();
      });
    const pages: Page[] = [
      { limit: 2, withTotal: true },
      { limit: 3, withTotal: false },
      { limit: 2, kind: 'odd', withTotal: true },
      { limit: 1, kind: 'even', after: ['2026-01-02T00:00:00.000Z', 'alpha-2'], withTotal: false },
      { limit: 4, after: ['2026-01-03T00:00:00.000Z', 'alpha-3'], withTotal: false },
    ];
    for (let round = 0; round < 3; round++) {
      for (const p of pages) {
        const rows = await withTenant(db, 'alpha', (trx) => page(trx, 'alpha', p));
        expect(rows).toEqual(await direct('alpha', p));
      }
    }
    expect(builds).toBe(pages.length);
  });

  it('sends another statement for another value that is no parameter (a table)', async () => {
    const ranks = reusableRead((trx: Kysely<Database>, table: 'item' | 'other_item', tenantId: string) =>
      trx.selectFrom(table).select('rank').where('tenant_id', '=', tenantId).orderBy('rank'),
    );
    for (let round = 0; round < 2; round++) {
      expect((await withTenant(db, 'beta', (trx) => ranks(trx, 'item', 'beta'))).map((row) => row.rank)).toEqual([1, 2, 3, 4, 5, 6]);
      expect((await withTenant(db, 'beta', (trx) => ranks(trx, 'other_item', 'beta'))).map((row) => row.rank)).toEqual([
        10, 20, 30, 40, 50, 60,
      ]);
    }
  });

  it('reads right when a parameter equals two arguments, and reuses the statement once they differ', async () => {
    let builds = 0;
    const between = reusableRead((trx: Kysely<Database>, tenantId: string, low: number, high: number) => {
      builds++;
      return trx
        .selectFrom('item')
        .select('rank')
        .where('tenant_id', '=', tenantId)
        .where('rank', '>=', low)
        .where('rank', '<=', high)
        .orderBy('rank');
    });
    const read = (low: number, high: number) =>
      withTenant(db, 'alpha', (trx) => between(trx, 'alpha', low, high)).then((rows) => rows.map((row) => row.rank));
    expect(await read(3, 3)).toEqual([3]);
    expect(await read(2, 4)).toEqual([2, 3, 4]);
    expect(await read(5, 6)).toEqual([5, 6]);
    expect(await read(4, 4)).toEqual([4]);
    // 3/3 could not tell low from high: built again for 2/4, reused since.
    expect(builds).toBe(2);
  });

  it('refuses a read that computes a parameter, at its first call', async () => {
    const computed = reusableRead((trx: Kysely<Database>, tenantId: string, limit: number) =>
      trx
        .selectFrom('item')
        .select('id')
        .where('tenant_id', '=', tenantId)
        .limit(limit + 1),
    );
    await expect(withTenant(db, 'alpha', (trx) => computed(trx, 'alpha', 2))).rejects.toThrow(/is none of the arguments/);
  });

  it('is sent through the Kysely it is given: its driver pipelines it with the tenant', async () => {
    const one = reusableRead((trx: Kysely<Database>, tenantId: string, id: string) =>
      trx.selectFrom('item').select('id').where('tenant_id', '=', tenantId).where('id', '=', id),
    );
    await withTenant(db, 'alpha', (trx) => one(trx, 'alpha', 'alpha-1'));
    const before = statements;
    const rows = await withTenant(db, 'beta', (trx) => one(trx, 'beta', 'beta-2'));
    expect(rows).toEqual([{ id: 'beta-2' }]);
    // One message, no BEGIN/COMMIT: a plain read travels behind its tenant's setting, as any read does.
    expect(statements - before).toBe(1);
  });
});
