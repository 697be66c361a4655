import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** The vitest settings of every workspace, so a team can run its own tests alone. */
export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    globalSetup: [fileURLToPath(new URL('./global-setup.ts', import.meta.url))],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Servers and pools per file: separate processes keep them apart.
    pool: 'forks',
  },
});
