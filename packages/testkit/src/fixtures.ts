import { test } from 'vitest';
import { type TestAuth, createTestAuth } from './auth.ts';
import { type ServiceDatabases, createServiceDatabases } from './databases.ts';

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
  return test.extend<object, SubgraphFixtures>({
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
