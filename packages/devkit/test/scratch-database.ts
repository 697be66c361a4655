import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { dropDatabase, ensureDatabase, urlFor } from '../src/provision.ts';

/**
 * A database of the test file's own, reached as its owner role (row-level security forced on its
 * tables applies to it): made and set up by `setup` before the file's tests, dropped after them.
 * Register it before the hooks that close the file's connections: Vitest runs `afterAll` last first.
 * @example const scratch = scratchDatabase('t_scope', (client) => client.query('create table note (...)'))
 */
export function scratchDatabase(prefix: string, setup: (client: pg.Client) => Promise<unknown>): { url: string } {
  const adminUrl = inject('pgAdminUrl');
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const role = { name, password: randomBytes(12).toString('hex') };
  const url = urlFor(adminUrl, name, role);
  beforeAll(async () => {
    await ensureDatabase(adminUrl, name, role);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await setup(client);
    } finally {
      await client.end();
    }
  }, 60_000);
  afterAll(() => dropDatabase(adminUrl, name));
  return { url };
}
