import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Runs a service's entry with only these variables set; resolves with its exit code and stderr. */
function run(service: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/index.ts'], {
    cwd: `${ROOT}services/${service}`,
    env: { PATH: process.env.PATH, LOG_LEVEL: 'silent', PORT: '0', METRICS_PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  // A service that did start is stopped after a while: what matters is that it did not refuse.
  const timer = setTimeout(() => child.kill('SIGTERM'), 30_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
}

const AUTH = { AUTH_JWKS_URL: 'http://127.0.0.1:9/jwks.json', AUTH_ISSUER: 'https://idp.test/', AUTH_AUDIENCE: 'tenantgraph' };
const PLACEHOLDER_TOKEN = 'change-me-to-a-long-random-string';

describe('placeholder secrets', () => {
  it('stop the gateway from starting in production with the registry token of .env.example', async () => {
    const { code, stderr } = await run('gateway', { ...AUTH, NODE_ENV: 'production', REGISTRY_TOKEN: PLACEHOLDER_TOKEN });
    expect(code).toBe(1);
    expect(stderr).toContain('REGISTRY_TOKEN: is the documented placeholder');
  }, 60_000);

  it("stop a subgraph from starting in production with docker-compose's old default password, and say every problem at once", async () => {
    const { code, stderr } = await run('product', {
      ...AUTH,
      NODE_ENV: 'production',
      REGISTRY_TOKEN: PLACEHOLDER_TOKEN,
      DATABASE_URL: 'postgres://product_svc:product_svc_password@127.0.0.1:9/product_db',
    });
    expect(code).toBe(1);
    expect(stderr).toContain('REGISTRY_TOKEN: is the documented placeholder');
    expect(stderr).toContain('DATABASE_URL: its password is a documented placeholder');
  }, 60_000);

  it('are accepted outside production (local development keeps working)', async () => {
    const { stderr } = await run('gateway', { ...AUTH, NODE_ENV: 'development', REGISTRY_TOKEN: PLACEHOLDER_TOKEN });
    expect(stderr).not.toContain('Invalid environment');
  }, 60_000);
});
