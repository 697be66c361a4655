import type { TestProject } from 'vitest/node';
import { startTestPostgres } from './postgres.ts';

/** One PostgreSQL server for the whole test run; each test file makes its own databases on it. */
export default async function setup(project: TestProject) {
  const postgres = await startTestPostgres();
  const shown = new URL(postgres.url);
  shown.password = '***';
  console.log(`[testkit] PostgreSQL for this run: ${postgres.kind} (${shown})`);
  project.provide('pgAdminUrl', postgres.url);
  return () => postgres.stop();
}
