import { randomBytes } from 'node:crypto';
import { connect, migrateToLatest, migrationState } from '@tenantgraph/database';
import { dropDatabase, ensureDatabase, urlFor } from '@tenantgraph/devkit';
import { dataSubgraphDeps, subgraphEnvironment } from '@tenantgraph/server-kit';
import { sql } from 'kysely';
import { describe, expect, inject, test } from 'vitest';
import type { Database } from '../src/database.ts';
import { createProductServer, migrationsFolder } from '../src/server.ts';

type Probe = { url: string; ready(): Promise<number>; health(): Promise<number> };

/**
 * `database`: an empty database with its own login role, no migration run.
 * `start(env)`: the product subgraph wired as `src/index.ts` wires it (`dataSubgraphDeps` from
 * the environment `env` completes), listening on 127.0.0.1.
 */
const it = test.extend<{ database: { url: string; name: string }; start: (env: Record<string, string>) => Promise<Probe> }>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads the fixture's dependencies from this pattern
  database: async ({}, use) => {
    const adminUrl = inject('pgAdminUrl');
    const suffix = randomBytes(4).toString('hex');
    const role = { name: `t_ready_${suffix}`, password: randomBytes(12).toString('hex') };
    const name = `t_ready_${suffix}`;
    await ensureDatabase(adminUrl, name, role);
    await use({ url: urlFor(adminUrl, name, role), name });
    await dropDatabase(adminUrl, name);
    const admin = connect(adminUrl, { max: 1 });
    await sql`drop role if exists ${sql.id(role.name)}`.execute(admin);
    await admin.destroy();
  },
  // biome-ignore lint/correctness/noEmptyPattern: as above
  start: async ({}, use) => {
    const stops: (() => Promise<void>)[] = [];
    await use(async (env) => {
      const environment = subgraphEnvironment.parse({
        AUTH_JWKS_URL: 'http://127.0.0.1:9/jwks.json',
        AUTH_ISSUER: 'https://issuer.test',
        AUTH_AUDIENCE: 'tenantgraph',
        REGISTRY_TOKEN: randomBytes(16).toString('hex'),
        // Quiet unless TEST_LOG_LEVEL says otherwise.
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
        ...env,
      });
      const server = createProductServer(dataSubgraphDeps<Database>('product', environment, migrationsFolder));
      const port = await server.start(0, '127.0.0.1');
      stops.push(server.stop);
      const base = `http://127.0.0.1:${port}`;
      return {
        url: base,
        ready: async () => (await fetch(`${base}/ready`)).status,
        health: async () => (await fetch(`${base}/health`)).status,
      };
    });
    for (const stop of stops) await stop();
  },
});

describe('product /ready', () => {
  it('answers 503 while its database is unreachable, though /health is 200', async ({ start }) => {
    // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    const product = await start({ DATABASE_URL: 'postgres://nobody:secret@127.0.0.1:9/product_db' });
    expect(await product.health()).toBe(200);
    expect(await product.ready()).toBe(503);
  });

  it('answers 503 while migrations are pending and 200 once they are applied', async ({ database, start }) => {
    const product = await start({ DATABASE_URL: database.url });
    expect(await product.health()).toBe(200);
    expect(await product.ready()).toBe(503);

    const db = connect(database.url, { max: 1 });
    try {
      await migrateToLatest(db, migrationsFolder);
    } finally {
      await db.destroy();
    }
    expect(await product.ready()).toBe(200);
  });

  it('migrates its shared database itself with MIGRATE_ON_START=true, and is ready after', async ({ database, start }) => {
    const product = await start({ DATABASE_URL: database.url, MIGRATE_ON_START: 'true' });
    const deadline = Date.now() + 10_000;
    while ((await product.ready()) !== 200) {
      if (Date.now() > deadline) throw new Error('not ready 10 s after start');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const db = connect(database.url, { max: 1 });
    try {
      const state = await migrationState(db, migrationsFolder);
      expect(state.pending).toEqual([]);
      expect(state.applied).toBeGreaterThan(0);
    } finally {
      await db.destroy();
    }
  });

  it('leaves the database alone without MIGRATE_ON_START', async ({ database, start }) => {
    const product = await start({ DATABASE_URL: database.url });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await product.ready()).toBe(503);
    const db = connect(database.url, { max: 1 });
    try {
      expect((await migrationState(db, migrationsFolder)).applied).toBe(0);
    } finally {
      await db.destroy();
    }
  });
});
