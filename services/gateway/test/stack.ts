import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, request } from 'node:http';
import type { SupergraphSdlHook } from '@apollo/gateway';
import { migrationsFolder as analyticsMigrations, createAnalyticsServer, startAnalyticsSync } from '@tenantgraph/analytics';
import { createLogger, createRegistryClient, type Logger, type TenantRegistry } from '@tenantgraph/core';
import { connect, createDatabaseRouter, withTenant } from '@tenantgraph/database';
import {
  createNatsTransport,
  createOutboxRelay,
  createPostgresTransport,
  deleteNatsStream,
  type EventTransport,
  eventLogMigrationsFolder,
} from '@tenantgraph/events';
import { createOrderServer, createProductClient, migrationsFolder as orderMigrations } from '@tenantgraph/order';
import { createProductServer, migrationsFolder as productMigrations } from '@tenantgraph/product';
import { createProjectServer, migrationsFolder as projectMigrations } from '@tenantgraph/project';
import {
  type ConcurrencyLimits,
  createMetrics,
  DEFAULT_SUBGRAPH_CONCURRENCY,
  listen,
  type Metrics,
  type SubgraphServer,
  tenantAdmission,
} from '@tenantgraph/server-kit';
import { createTenantServer, migrationsFolder as tenantMigrations } from '@tenantgraph/tenant';
import { createServiceDatabases, createTestAuth, type ServiceDatabases, type TestAuth } from '@tenantgraph/testkit';
import { test } from 'vitest';
import { createGatewayServer, type GatewayServerDeps, staticSupergraph, type TenantEventSource } from '../src/server.ts';

const SUPERGRAPH = new URL('../../../supergraph/supergraph.graphql', import.meta.url);
const SUBGRAPHS = ['tenant', 'product', 'order', 'project', 'analytics'] as const;
type Subgraph = (typeof SUBGRAPHS)[number];

/** The demo tenants, plus `papaya` (shared) for tests that need a third one. */
const TENANTS = [
  { id: 'avocado', name: 'Avocado Inc', plan: 'PRO', placement: 'shared' },
  { id: 'mango', name: 'Mango Inc', plan: 'ENTERPRISE', placement: 'dedicated' },
  { id: 'papaya', name: 'Papaya Inc', plan: 'FREE', placement: 'shared' },
] as const;

export type Stack = {
  /** The gateway's `/graphql`. */
  gatewayUrl: string;
  /** Each subgraph's `/graphql`, for calling them directly. */
  subgraphUrls: Record<Subgraph, string>;
  auth: TestAuth;
  metrics: Record<Subgraph, Metrics>;
  /** The main gateway's metrics (its registry, as /metrics would serve it). */
  gatewayMetrics: Metrics;
  databases: Record<Subgraph, ServiceDatabases>;
  /** Headers of every request the gateway sent to the product subgraph (seen by a recording hop). */
  productRequests: IncomingHttpHeaders[];
  /** The stack's domain events: the transport (its own NATS stream, or its own events database) the relays publish to. */
  events: { kind: 'nats' | 'postgres'; transport: EventTransport };
  /** The registry client the gateway uses (for extra gateways). */
  registry(): TenantRegistry;
  /**
   * Another gateway over the same subgraphs (direct, without the recording hop), with some
   * dependencies replaced: other limits, a slow or dead subgraph URL, a short timeout. Stopped
   * with the stack unless stopped before.
   */
  startGateway(
    overrides?: Partial<GatewayServerDeps>,
  ): Promise<{ url: string; stop(): Promise<void>; openSubscriptions(tenantId?: string): number }>;
  /** The tenant of each transport subscription the stack's gateways opened (one per tenant, shared by its sockets). */
  gatewayEventSubscriptions: readonly string[];
  /** Subscriptions the gateway has open and listening, of one tenant or of all. */
  openSubscriptions(tenantId?: string): number;
  stop(): Promise<void>;
};

type StackOptions = {
  /** The gateway's supergraph source (e.g. `supergraphFromFile` on a temp file); the committed supergraph, fixed, by default. */
  supergraph?: SupergraphSdlHook;
  /** The gateway's logger, to read its log lines; silent by default. */
  gatewayLogger?: Logger;
  /** Per-plan rate limits of the gateway, in requests and in estimated cost (tests that load it on purpose raise them). */
  planLimits?: GatewayServerDeps['planLimits'];
  costRates?: GatewayServerDeps['costRates'];
  /** Query limits of the gateway (tests whose queries are larger than a client's should be). */
  limits?: GatewayServerDeps['limits'];
  /** Cost budgets by plan of the gateway (tests that read everything at once raise them). */
  queryBudgets?: GatewayServerDeps['queryBudgets'];
  /** Per-tenant concurrency of the gateway and the subgraphs (tests that load them on purpose raise it). */
  concurrency?: ConcurrencyLimits;
  /** The event transport: the PostgreSQL one by default, NATS JetStream (`NATS_URL` or 127.0.0.1:4222) on request. */
  events?: 'nats' | 'postgres';
};

/**
 * The whole supergraph in one process, over real HTTP: the four subgraphs on their own
 * databases (mango in dedicated ones), the tenant subgraph as the registry, and the gateway on
 * the committed supergraph.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const auth = await createTestAuth();
  const logger = (service: string) => createLogger({ service }, process.env.TEST_LOG_LEVEL ?? 'silent');
  const registryToken = randomBytes(16).toString('hex');
  const metrics = Object.fromEntries(SUBGRAPHS.map((name) => [name, createMetrics(name)])) as Record<Subgraph, Metrics>;
  const migrations = {
    tenant: tenantMigrations,
    product: productMigrations,
    order: orderMigrations,
    project: projectMigrations,
    analytics: analyticsMigrations,
  };
  const databases = {} as Record<Subgraph, ServiceDatabases>;
  for (const name of SUBGRAPHS) {
    databases[name] = await createServiceDatabases({
      service: name,
      migrationsFolder: migrations[name],
      dedicatedTenants: name === 'tenant' ? [] : ['mango'],
    });
  }
  const started: { stop(): Promise<void> }[] = [];
  const run = async (server: SubgraphServer) => {
    started.push(server);
    return `http://127.0.0.1:${await server.start(0, '127.0.0.1')}`;
  };

  const tenantDb = connect<any>(databases.tenant.sharedUrl);
  for (const tenant of TENANTS) {
    await withTenant(tenantDb, tenant.id, (trx) =>
      trx
        .insertInto('tenant')
        .values({ ...tenant, slug: tenant.id })
        .execute(),
    );
  }
  const tenantUrl = await run(
    createTenantServer({ db: tenantDb, verifier: auth.verifier, logger: logger('tenant'), metrics: metrics.tenant, registryToken }),
  );
  const registry = () => createRegistryClient({ url: `${tenantUrl}/internal/tenants`, token: registryToken });
  const deps = (name: Subgraph) => ({
    databases: createDatabaseRouter<any>({ sharedUrl: databases[name].sharedUrl, registry: registry(), onQuery: metrics[name].countQuery }),
    admission: tenantAdmission(options.concurrency ?? DEFAULT_SUBGRAPH_CONCURRENCY, registry()),
    verifier: auth.verifier,
    logger: logger(name),
    metrics: metrics[name],
    ready: async () => {},
  });
  const productUrl = await run(createProductServer(deps('product')));
  const orderUrl = await run(createOrderServer({ ...deps('order'), products: createProductClient(`${productUrl}/graphql`) }));
  const projectUrl = await run(createProjectServer(deps('project')));
  const analyticsDeps = deps('analytics');
  const analyticsUrl = await run(createAnalyticsServer(analyticsDeps));
  const recorder = await recordingHop(productUrl);

  // Domain events: a relay per data subgraph, and analytics_sync, over the stack's own transport.
  const events = await openEvents(options.events ?? 'postgres');
  for (const name of ['product', 'order', 'project'] as const) {
    const relay = createOutboxRelay({ transport: events.transport, sharedUrl: databases[name].sharedUrl, pollMs: 200 });
    await relay.start();
    started.push(relay);
  }
  const analyticsSync = await startAnalyticsSync({
    transport: events.transport,
    databases: analyticsDeps.databases,
    logger: logger('analytics'),
    retryDelayMs: 200,
  });
  started.push({ stop: () => analyticsSync.close() });

  // The gateway's subscriptions on the stack's transport (closed by the stack, not by a gateway),
  // each transport subscription it opens recorded by tenant.
  const gatewayEventSubscriptions: string[] = [];
  const gatewayEvents: TenantEventSource = {
    subscribe(scope, handler) {
      gatewayEventSubscriptions.push(scope.tenantId);
      return events.transport.subscribe(scope, handler);
    },
    close: async () => {},
  };
  const gatewayMetrics = createMetrics('gateway');
  const gateway = createGatewayServer({
    metrics: gatewayMetrics,
    supergraph: options.supergraph ?? staticSupergraph(await readFile(SUPERGRAPH, 'utf8')),
    verifier: auth.verifier,
    registry: registry(),
    logger: options.gatewayLogger ?? logger('gateway'),
    planLimits: options.planLimits,
    costRates: options.costRates,
    limits: options.limits,
    queryBudgets: options.queryBudgets,
    ...(options.concurrency ? { admission: tenantAdmission(options.concurrency, registry()) } : {}),
    events: gatewayEvents,
    subgraphUrls: {
      tenant: `${tenantUrl}/graphql`,
      product: `${recorder.url}/graphql`,
      order: `${orderUrl}/graphql`,
      project: `${projectUrl}/graphql`,
      analytics: `${analyticsUrl}/graphql`,
    },
  });
  const gatewayPort = await gateway.start(0, '127.0.0.1');
  const subgraphUrls = {
    tenant: `${tenantUrl}/graphql`,
    product: `${productUrl}/graphql`,
    order: `${orderUrl}/graphql`,
    project: `${projectUrl}/graphql`,
    analytics: `${analyticsUrl}/graphql`,
  };
  const extraGateways = new Set<{ stop(): Promise<void> }>();
  const startGateway = async (overrides: Partial<GatewayServerDeps> = {}) => {
    const extra = createGatewayServer({
      supergraph: staticSupergraph(await readFile(SUPERGRAPH, 'utf8')),
      verifier: auth.verifier,
      registry: registry(),
      events: gatewayEvents,
      logger: logger('gateway'),
      ...overrides,
      subgraphUrls: { ...subgraphUrls, ...overrides.subgraphUrls },
    });
    const port = await extra.start(0, '127.0.0.1');
    let stopped: Promise<void> | undefined;
    const handle = {
      url: `http://127.0.0.1:${port}/graphql`,
      openSubscriptions: extra.openSubscriptions,
      stop: () => {
        extraGateways.delete(handle);
        stopped ??= extra.stop();
        return stopped;
      },
    };
    extraGateways.add(handle);
    return handle;
  };

  return {
    gatewayUrl: `http://127.0.0.1:${gatewayPort}/graphql`,
    subgraphUrls,
    auth,
    metrics,
    gatewayMetrics,
    databases,
    productRequests: recorder.requests,
    events: { kind: events.transport.kind, transport: events.transport },
    registry,
    startGateway,
    openSubscriptions: gateway.openSubscriptions,
    gatewayEventSubscriptions,
    async stop() {
      for (const extra of [...extraGateways]) await extra.stop();
      await gateway.stop();
      await recorder.close();
      for (const server of started.reverse()) await server.stop();
      await events.drop();
      for (const name of SUBGRAPHS) await databases[name].drop();
      await auth.close();
    },
  };
}

/** The stack's event transport: a NATS stream and subject prefix of its own, or an events database of its own. */
async function openEvents(kind: 'nats' | 'postgres'): Promise<{ transport: EventTransport; drop(): Promise<void> }> {
  const run = randomBytes(4).toString('hex');
  if (kind === 'nats') {
    const url = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
    const stream = `TEST_STACK_${run}`;
    const transport = await createNatsTransport({ url, stream, subjectPrefix: `test_${run}.tenant` });
    return { transport, drop: () => transport.close().then(() => deleteNatsStream(url, stream)) };
  }
  const database = await createServiceDatabases({ service: 'events', migrationsFolder: eventLogMigrationsFolder });
  const transport = await createPostgresTransport({ url: database.sharedUrl, pollMs: 200 });
  return { transport, drop: () => transport.close().then(() => database.drop()) };
}

/** A plain HTTP hop that forwards to `target` and remembers each request's headers. */
async function recordingHop(target: string) {
  const requests: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    requests.push(req.headers);
    const upstream = request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    req.pipe(upstream);
  });
  const port = await listen(server, 0, '127.0.0.1');
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/**
 * `it` with the whole stack as a file-scoped fixture: started by the first test that asks for
 * it, stopped after the file.
 * @example it('serves the tenant', async ({ stack }) => { ... })
 */
export const stackTest = test.extend<{ stack: Stack }>({
  stack: [
    // biome-ignore lint/correctness/noEmptyPattern: vitest reads the fixture's dependencies from this pattern
    async ({}, use) => {
      const stack = await startStack();
      await use(stack);
      await stack.stop();
    },
    { scope: 'file' },
  ],
});
