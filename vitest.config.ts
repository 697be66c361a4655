import { defineConfig, mergeConfig } from 'vitest/config';
import shared from './packages/testkit/src/vitest-config.ts';

// One run for the whole workspace, so one PostgreSQL serves every test file.
export default mergeConfig(shared, defineConfig({ test: { include: ['{packages,services,tools,supergraph}/**/*.test.ts'] } }));
