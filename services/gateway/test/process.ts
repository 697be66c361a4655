import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createTestAuth, DEMO_TENANTS, type TestAuth } from '@tenantgraph/testkit';

const GATEWAY = fileURLToPath(new URL('..', import.meta.url));

type GatewayProcess = {
  /** The API's `/graphql`. */
  url: string;
  /** The metrics listener's `/metrics`. */
  metricsUrl: string;
  auth: TestAuth;
  stop(): Promise<void>;
};

/**
 * The gateway as it runs in production: its own `index.ts` in a child process, configured only
 * by environment variables (ports 0, read back from its log), with a real JWKS and a registry
 * endpoint that publishes the demo tenants. The subgraph URLs point at a closed port: the tests
 * send operations the gateway answers itself (`__typename`) or refuses before any subgraph.
 */
export async function startGatewayProcess(env: Record<string, string> = {}): Promise<GatewayProcess> {
  const auth = await createTestAuth();
  const registryToken = randomBytes(16).toString('hex');
  const registry = createServer((req, res) => {
    if (req.headers.authorization !== `Bearer ${registryToken}`) return res.writeHead(401).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ tenants: DEMO_TENANTS }));
  });
  await new Promise<void>((resolve) => registry.listen(0, '127.0.0.1', resolve));
  const registryUrl = `http://127.0.0.1:${(registry.address() as AddressInfo).port}/internal/tenants`;
  const gateway = await startServiceProcess(
    GATEWAY,
    {
      ...serviceEnvironment(auth, registryToken),
      TENANT_REGISTRY_URL: registryUrl,
      ...Object.fromEntries(
        ['TENANT', 'PRODUCT', 'ORDER', 'PROJECT'].map((name) => [`SUBGRAPH_${name}_URL`, 'http://127.0.0.1:9/graphql']),
      ),
      ...env,
    },
    Number(env.GATEWAY_WORKERS ?? 1),
  ).catch(async (error: unknown) => {
    await closeServer(registry);
    await auth.close();
    throw error;
  });
  return {
    url: gateway.url,
    metricsUrl: gateway.metricsUrl,
    auth,
    async stop() {
      await gateway.stop();
      await closeServer(registry);
      await auth.close();
    },
  };
}

/** What every service process of a test is started with: ports 0 on loopback, the test's identity provider, the registry token. */
export function serviceEnvironment(auth: TestAuth, registryToken: string): Record<string, string> {
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    PORT: '0',
    HOST: '127.0.0.1',
    METRICS_PORT: '0',
    AUTH_JWKS_URL: auth.jwksUrl,
    AUTH_ISSUER: auth.issuer.issuer,
    AUTH_AUDIENCE: auth.issuer.audience,
    REGISTRY_TOKEN: registryToken,
  };
}

export type ServiceProcess = {
  /** The API's `/graphql`. */
  url: string;
  /** The metrics listener's `/metrics`. */
  metricsUrl: string;
  /** Every line the service has logged so far. */
  lines: string[];
  stop(): Promise<void>;
};

/**
 * A service (the gateway or a subgraph, by its folder) as it runs in production: its own
 * `index.ts` in a child process, configured only by `env` (ports 0, read back from its log).
 */
export async function startServiceProcess(dir: string, env: Record<string, string>, workers = 1): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/index.ts'], {
    cwd: dir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines: string[] = [];
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  };
  try {
    const { port, metricsPort } = await boundPorts(child, workers, lines);
    return { url: `http://127.0.0.1:${port}/graphql`, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`, lines, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Reads the ports from the log lines `listening` (every worker) and `metrics listening`. */
function boundPorts(child: ChildProcess, workers: number, lines: string[]): Promise<{ port: number; metricsPort: number }> {
  return new Promise((resolve, reject) => {
    let port = 0;
    let metricsPort = 0;
    let listening = 0;
    const timer = setTimeout(() => reject(new Error(`service did not start:\n${lines.join('\n')}`)), 100_000);
    child.once('exit', (code) => reject(new Error(`service exited with ${code}:\n${lines.join('\n')}`)));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      lines.push(line);
      try {
        const entry = JSON.parse(line) as { message?: string; port?: number };
        if (entry.message === 'listening') {
          port = entry.port ?? 0;
          listening++;
        }
        if (entry.message === 'metrics listening') metricsPort = entry.port ?? 0;
      } catch {
        // not a log line of ours
      }
      if (listening >= workers && metricsPort) {
        clearTimeout(timer);
        resolve({ port, metricsPort });
      }
    });
  });
}

function closeServer(server: Server) {
  return new Promise<void>((resolve) => server.close(() => resolve()));
}
