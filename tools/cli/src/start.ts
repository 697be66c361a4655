// `pnpm start`: the whole supergraph on one machine.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { DEV_AUDIENCE, DEV_ISSUER, type Issuer, loadDevIssuer, serveJwks } from '@tenantgraph/devkit';
import { ALL_SCOPES, DEMO_TENANTS, seedDemo } from './demo.ts';
import { eventsDatabaseUrl, provisionEvents } from './events.ts';
import { DATA_DIR, ROOT } from './paths.ts';
import { openPlatform, type Platform, SERVICES, serviceDatabaseUrl } from './platform.ts';
import { runService, waitUntilHealthy } from './processes.ts';
import { type Supervised, supervise } from './supervisor.ts';
import { createTenant, provisionServices } from './tenants.ts';

const GATEWAY_PORT = 4000;
/** A service's metrics port is its API port plus this (gateway 9400, tenant 9401 ...). */
const METRICS_PORT_OFFSET = 5400;
const log = (line: string) => console.log(`[start  ] ${line}`);
const services: Supervised[] = [];
const cleanups: (() => Promise<void>)[] = [];
let stopping = false;

async function main() {
  const platform = await openPlatform(log, { owner: true });
  cleanups.push(platform.close);
  log(`PostgreSQL: ${process.env.PG_ADMIN_URL ? 'PG_ADMIN_URL' : 'embedded'}; creating roles and databases, migrating`);
  await provisionServices(platform, log);
  await provisionEvents(platform, log);
  for (const tenant of DEMO_TENANTS) await createTenant(platform, tenant, log);

  const auth = await identityProvider();
  const common = {
    AUTH_JWKS_URL: auth.jwksUrl,
    AUTH_ISSUER: auth.issuer,
    AUTH_AUDIENCE: auth.audience,
    REGISTRY_TOKEN: platform.secrets.registryToken,
    TENANT_REGISTRY_URL: 'http://127.0.0.1:4001/internal/tenants',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    // Domain events: NATS JetStream when NATS_URL is set (passed on as it is), else the events database.
    ...(process.env.NATS_URL ? {} : { EVENTS_DATABASE_URL: eventsDatabaseUrl(platform) }),
  };
  log(`domain events: ${process.env.NATS_URL ? `NATS JetStream at ${process.env.NATS_URL}` : 'PostgreSQL transport (events_db)'}`);
  for (const service of SERVICES) {
    const env = { ...common, ...serviceEnvironment(platform, service.name), PORT: String(service.port) };
    await keepRunning(service.name, service.dir, env, service.port);
  }
  ensureExplorer();
  await keepRunning('gateway', `${ROOT}services/gateway`, { ...common, PORT: String(GATEWAY_PORT) }, GATEWAY_PORT);

  const endpoint = `http://localhost:${GATEWAY_PORT}/graphql`;
  if (auth.devIssuer) await seedDemo(endpoint, auth.devIssuer, log);
  printBanner(endpoint, auth.devIssuer);
}

function serviceEnvironment(platform: Platform, service: string): Record<string, string> {
  const env: Record<string, string> = { DATABASE_URL: serviceDatabaseUrl(platform, service) };
  if (service === 'order') env.PRODUCT_SUBGRAPH_URL = 'http://127.0.0.1:4002/graphql';
  return env;
}

/** The configured identity provider, or the development issuer with its JWKS served locally. */
async function identityProvider(): Promise<{ jwksUrl: string; issuer: string; audience: string; devIssuer?: Issuer }> {
  const { AUTH_JWKS_URL, AUTH_ISSUER, AUTH_AUDIENCE } = process.env;
  if (AUTH_JWKS_URL) {
    if (!AUTH_ISSUER || !AUTH_AUDIENCE) throw new Error('AUTH_JWKS_URL needs AUTH_ISSUER and AUTH_AUDIENCE');
    log(`identity provider: ${AUTH_JWKS_URL}`);
    return { jwksUrl: AUTH_JWKS_URL, issuer: AUTH_ISSUER, audience: AUTH_AUDIENCE };
  }
  const devIssuer = await loadDevIssuer(DATA_DIR);
  const jwks = await serveJwks(devIssuer);
  cleanups.push(jwks.close);
  log(`identity provider: development issuer (key in .data/), JWKS at ${jwks.url}`);
  return { jwksUrl: jwks.url, issuer: DEV_ISSUER, audience: DEV_AUDIENCE, devIssuer };
}

/**
 * Starts a service and keeps it running: one that dies is restarted (with backoff) while the
 * others go on serving; the gateway answers the other subgraphs' fields meanwhile.
 */
async function keepRunning(name: string, dir: string, env: Record<string, string>, port: number) {
  const health = `http://127.0.0.1:${port}/health`;
  services.push(
    await supervise({
      name,
      start: () => runService(name, dir, 'src/index.ts', env),
      ready: (child) => waitUntilHealthy(health, child),
      log,
      shouldRestart: () => !stopping,
    }),
  );
}

async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  log('stopping: gateway first, then the subgraphs, then PostgreSQL (data stays in .data/)');
  for (const service of [...services].reverse()) await service.stop();
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  log('stopped');
  process.exit(code);
}

/** The install builds the explorer; an install that skipped scripts (--ignore-scripts) gets it here. */
function ensureExplorer() {
  if (existsSync(`${ROOT}services/gateway/explorer/dist/explorer.js`)) return;
  log('building the explorer (GraphiQL) into services/gateway/explorer/dist');
  const result = spawnSync(process.execPath, [`${ROOT}services/gateway/explorer/build.mjs`], { stdio: 'inherit' });
  if (result.status !== 0) log('the explorer could not be built; the API works without it');
}

function printBanner(endpoint: string, devIssuer: Issuer | undefined) {
  const lines = [
    '',
    `  Gateway    ${endpoint}   (health: http://localhost:${GATEWAY_PORT}/health)`,
    `  Explorer   ${endpoint} in a browser: paste a token into its "Bearer token" field`,
    `  Subgraphs  ${SERVICES.map((service) => `${service.name} :${service.port}`).join(', ')}`,
    // Each service's own metrics listener (RUNTIME.md: its API port + 5400), on loopback only.
    `  Metrics    http://127.0.0.1:${GATEWAY_PORT + METRICS_PORT_OFFSET}/metrics (gateway); ${SERVICES.map((service) => `${service.name} :${service.port + METRICS_PORT_OFFSET}`).join(', ')} (Prometheus text)`,
    `  Traces     ${process.env.OTEL_EXPORTER_OTLP_ENDPOINT ? `OTLP to ${process.env.OTEL_EXPORTER_OTLP_ENDPOINT}` : 'off (set OTEL_EXPORTER_OTLP_ENDPOINT to send them; see docs/observability.md)'}`,
    `  Tenants    ${DEMO_TENANTS.map((tenant) => `${tenant.id} (${tenant.dedicated ? 'dedicated databases' : 'shared databases'})`).join(', ')}`,
  ];
  if (devIssuer) {
    lines.push(
      '',
      '  A demo token (development issuer):',
      `    TOKEN=$(npx pnpm@10 token --tenant avocado --scope "${ALL_SCOPES.join(' ')}")`,
      `    curl -s ${endpoint} -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\`,
      `      -d '{"query":"{ tenant { name plan products(first: 3) { nodes { name priceCents } } } }"}'`,
    );
  }
  lines.push('', '  Ctrl-C stops everything.', '');
  console.log(lines.join('\n'));
}

process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
main().catch((error: unknown) => {
  console.error(`[start  ] failed: ${error instanceof Error ? error.message : String(error)}`);
  void shutdown(1);
});
