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
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/index.ts'], {
    cwd: GATEWAY,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      PORT: '0',
      HOST: '127.0.0.1',
      METRICS_PORT: '0',
      AUTH_JWKS_URL: auth.jwksUrl,
      AUTH_ISSUER: auth.issuer.issuer,
      AUTH_AUDIENCE: auth.issuer.audience,
      REGISTRY_TOKEN: registryToken,
      TENANT_REGISTRY_URL: registryUrl,
      ...Object.fromEntries(
        ['TENANT', 'PRODUCT', 'ORDER', 'PROJECT'].map((name) => [`SUBGRAPH_${name}_URL`, 'http://127.0.0.1:9/graphql']),
      ),
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await closeServer(registry);
    await auth.close();
  };
  try {
    const { port, metricsPort } = await boundPorts(child, Number(env.GATEWAY_WORKERS ?? 1));
    return { url: `http://127.0.0.1:${port}/graphql`, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`, auth, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Reads the ports from the log lines `listening` (every worker) and `metrics listening`. */
function boundPorts(child: ChildProcess, workers: number): Promise<{ port: number; metricsPort: number }> {
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    let port = 0;
    let metricsPort = 0;
    let listening = 0;
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${lines.join('\n')}`)), 100_000);
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}:\n${lines.join('\n')}`)));
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
