import { createLogger, type TenantRegistry } from '@tenantgraph/core';
import { createDatabaseRouter } from '@tenantgraph/database';
import { createMetrics, type DataSubgraphDeps, type Metrics, type SubgraphServer } from '@tenantgraph/server-kit';
import { test } from 'vitest';
import { createTestAuth, type TestAuth } from './auth.ts';
import { createServiceDatabases, type ServiceDatabases } from './databases.ts';
import { staticRegistry } from './registry.ts';

export type SubgraphFixtures = {
  /** A real identity provider for the file: key pair, JWKS over HTTP, token minting. */
  auth: TestAuth;
  /** The service's databases for the file: shared, and one for the dedicated tenant `mango`. */
  databases: ServiceDatabases;
};

/**
 * `it` with the fixtures of a subgraph integration test, created once per file.
 * @example
 * const it = subgraphTest({ service: 'product', migrationsFolder })
 * it('hides avocado from mango', async ({ auth, databases }) => { ... })
 */
export function subgraphTest(options: { service: string; migrationsFolder: string; dedicatedTenants?: string[] }) {
  return test.extend<SubgraphFixtures>({
    auth: [
      // biome-ignore lint/correctness/noEmptyPattern: vitest reads the fixture's dependencies from this pattern
      async ({}, use) => {
        const auth = await createTestAuth();
        await use(auth);
        await auth.close();
      },
      { scope: 'file' },
    ],
    databases: [
      // biome-ignore lint/correctness/noEmptyPattern: as above
      async ({}, use) => {
        const databases = await createServiceDatabases({ dedicatedTenants: ['mango'], ...options });
        await use(databases);
        await databases.drop();
      },
      { scope: 'file' },
    ],
  });
}

/**
 * `it` for a data subgraph: the fixtures above, plus the subgraph itself, started once per file
 * over the real databases with the demo registry (`avocado` shared, `mango` dedicated).
 * `url` is its `/graphql` endpoint.
 * @example
 * const it = dataSubgraphTest({ service: 'product', migrationsFolder, create: createProductServer })
 * it('lists products', async ({ auth, url }) => { ... })
 */
export function dataSubgraphTest<DB>(options: {
  service: string;
  migrationsFolder: string;
  create(deps: DataSubgraphDeps<DB>): SubgraphServer;
  registry?: TenantRegistry;
}) {
  return subgraphTest(options).extend<{ url: string; metrics: Metrics }>({
    metrics: [
      // biome-ignore lint/correctness/noEmptyPattern: vitest reads the fixture's dependencies from this pattern
      async ({}, use) => use(createMetrics(options.service)),
      { scope: 'file' },
    ],
    url: [
      async ({ auth, databases, metrics }, use) => {
        const router = createDatabaseRouter<DB>({
          sharedUrl: databases.sharedUrl,
          registry: options.registry ?? staticRegistry(),
          onQuery: metrics.countQuery,
        });
        const logger = createLogger({ service: options.service }, process.env.TEST_LOG_LEVEL ?? 'silent');
        const server = options.create({ databases: router, verifier: auth.verifier, logger, metrics, ready: async () => {} });
        const port = await server.start(0, '127.0.0.1');
        await use(`http://127.0.0.1:${port}/graphql`);
        await server.stop();
      },
      { scope: 'file' },
    ],
  });
}
