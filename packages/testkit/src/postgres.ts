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
  return { ...(await startEmbeddedPostgres({ persistent: false })), kind: 'embedded' };
}

function dockerAvailable(): boolean {
  return Boolean(process.env.DOCKER_HOST) || existsSync('/var/run/docker.sock');
}

