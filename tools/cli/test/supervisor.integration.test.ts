import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, withTenant } from '@tenantgraph/database';
import { migrationsFolder } from '@tenantgraph/tenant/migrations';
import { createServiceDatabases, createTestAuth, freePort, graphql, type ServiceDatabases, type TestAuth } from '@tenantgraph/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../src/paths.ts';
import { runService, waitUntilHealthy } from '../src/processes.ts';
import { supervise } from '../src/supervisor.ts';

/** Polls `condition` every 50 ms for up to 60 s: the machine is shared, nothing here is timed. */
async function until(condition: () => boolean | Promise<boolean>, what: string) {
  const deadline = Date.now() + 60_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('the supervisor of pnpm start', () => {
  let auth: TestAuth;
  let databases: ServiceDatabases;

  beforeAll(async () => {
    auth = await createTestAuth();
    databases = await createServiceDatabases({ service: 'tenant', migrationsFolder });
    const db = connect<any>(databases.sharedUrl);
    await withTenant(db, 'avocado', (trx) =>
      trx.insertInto('tenant').values({ id: 'avocado', slug: 'avocado', name: 'Avocado Inc', plan: 'PRO', placement: 'shared' }).execute(),
    );
    await db.destroy();
  }, 120_000);

  afterAll(async () => {
    await databases?.drop();
    await auth?.close();
  });

  it('restarts a killed subgraph, which then serves again', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const lines: string[] = [];
    const tenant = await supervise({
      name: 'tenant',
      start: () =>
        runService('tenant', join(ROOT, 'services/tenant'), 'src/index.ts', {
          PORT: String(port),
          HOST: '127.0.0.1',
          DATABASE_URL: databases.sharedUrl,
          AUTH_JWKS_URL: auth.jwksUrl,
          AUTH_ISSUER: auth.issuer.issuer,
          AUTH_AUDIENCE: auth.issuer.audience,
          REGISTRY_TOKEN: 'a-registry-token-for-this-test',
          LOG_LEVEL: 'warn',
        }),
      ready: (child) => waitUntilHealthy(`${url}/health`, child),
      log: (line) => lines.push(line),
      initialDelayMs: 200,
    });
    try {
      const token = await auth.token('avocado');
      const query = '{ tenant { id name } }';
      expect((await graphql(`${url}/graphql`, { token, query })).body.data.tenant).toEqual({ id: 'avocado', name: 'Avocado Inc' });

      const first = tenant.current().process;
      first.kill('SIGKILL');
      await until(() => lines.some((line) => line.startsWith('tenant is back')), 'the restarted tenant subgraph');
      expect(lines[0]).toBe('tenant exited with code null (SIGKILL); restarting in 0.2 s');
      expect(lines[1]).toMatch(/^tenant is back \(pid \d+, restart 1\)$/);
      expect(tenant.current().process.pid).not.toBe(first.pid);
      expect((await graphql(`${url}/graphql`, { token, query })).body.data.tenant).toEqual({ id: 'avocado', name: 'Avocado Inc' });
    } finally {
      await tenant.stop();
    }
    expect(tenant.current().process.exitCode ?? tenant.current().process.signalCode).not.toBeNull();
    expect(tenant.restarts()).toBe(1);
  }, 120_000);

  it('backs off exponentially while a service keeps crashing, and stops restarting once stopped', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'supervisor-'));
    const counter = join(dir, 'runs');
    await writeFile(counter, '0');
    // Run 1 serves until killed, runs 2 to 4 crash at once (exit 3), run 5 serves.
    await writeFile(
      join(dir, 'service.mjs'),
      `import { readFileSync, writeFileSync } from 'node:fs';
const run = Number(readFileSync(${JSON.stringify(counter)}, 'utf8')) + 1;
writeFileSync(${JSON.stringify(counter)}, String(run));
if (run >= 2 && run <= 4) process.exit(3);
setInterval(() => {}, 1000);
`,
    );
    const lines: string[] = [];
    const service = await supervise({
      name: 'crashy',
      start: () => {
        const child = spawn(process.execPath, [join(dir, 'service.mjs')], { stdio: 'ignore' });
        return { name: 'crashy', process: child, exited: new Promise((resolve) => child.once('exit', resolve)) };
      },
      ready: async () => {},
      log: (line) => lines.push(line),
      initialDelayMs: 100,
    });
    try {
      await until(async () => (await readFile(counter, 'utf8')) === '1', 'the first run');
      service.current().process.kill('SIGKILL');
      await until(() => lines.some((line) => line.startsWith('crashy is back (pid') && line.endsWith('restart 4)')), 'the fifth run');
      expect(lines.filter((line) => line.includes('restarting'))).toEqual([
        'crashy exited with code null (SIGKILL); restarting in 0.1 s',
        'crashy exited with code 3; restarting in 0.2 s',
        'crashy exited with code 3; restarting in 0.4 s',
        'crashy exited with code 3; restarting in 0.8 s',
      ]);
    } finally {
      await service.stop();
    }
    expect(service.current().process.signalCode).toBe('SIGTERM');
    expect(service.restarts()).toBe(4);
    expect(lines.filter((line) => line.includes('restarting'))).toHaveLength(4);
    await rm(dir, { recursive: true, force: true });
  }, 120_000);
});
