import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { connect, withTenant } from '@tenantgraph/database';
import { migrationsFolder as productMigrations } from '@tenantgraph/product';
import { migrationsFolder as tenantMigrations } from '@tenantgraph/tenant';
import { createServiceDatabases, createTestAuth, graphql, type ServiceDatabases, type TestAuth } from '@tenantgraph/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServiceProcess, serviceEnvironment, startServiceProcess } from './process.ts';

const folder = (service: string) => fileURLToPath(new URL(`../../${service}`, import.meta.url));

type Span = {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  raw: string;
};

/**
 * An OTLP/HTTP trace receiver speaking the JSON protocol (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`),
 * as a collector, Jaeger or Tempo would receive: it keeps every span with its service's name.
 */
async function otlpReceiver() {
  const spans: Span[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        for (const resourceSpans of body.resourceSpans ?? []) {
          const service = attributesOf(resourceSpans.resource?.attributes)['service.name'] as string;
          for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
            for (const span of scopeSpans.spans ?? []) {
              spans.push({
                ...span,
                parentSpanId: span.parentSpanId ?? '',
                service,
                attributes: attributesOf(span.attributes),
                raw: JSON.stringify(span),
              });
            }
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, spans, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

function attributesOf(list: { key: string; value: Record<string, unknown> }[] = []): Record<string, unknown> {
  return Object.fromEntries(list.map(({ key, value }) => [key, Object.values(value)[0]]));
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('tracing (OTLP endpoint set)', () => {
  let receiver: Awaited<ReturnType<typeof otlpReceiver>>;
  let auth: TestAuth;
  const databases: ServiceDatabases[] = [];
  const services: ServiceProcess[] = [];
  let gatewayUrl: string;
  let productUrl: string;
  let gatewayEnvironment: Record<string, string>;

  beforeAll(async () => {
    receiver = await otlpReceiver();
    auth = await createTestAuth();
    const tenantDatabases = await createServiceDatabases({ service: 'tenant', migrationsFolder: tenantMigrations });
    const productDatabases = await createServiceDatabases({ service: 'product', migrationsFolder: productMigrations });
    databases.push(tenantDatabases, productDatabases);
    const tenantDb = connect<any>(tenantDatabases.sharedUrl);
    await withTenant(tenantDb, 'avocado', (trx) =>
      trx.insertInto('tenant').values({ id: 'avocado', slug: 'avocado', name: 'Avocado Inc', plan: 'PRO', placement: 'shared' }).execute(),
    );
    await tenantDb.destroy();
    const common = {
      ...serviceEnvironment(auth, randomBytes(16).toString('hex')),
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    };
    const tenant = await startServiceProcess(folder('tenant'), { ...common, DATABASE_URL: tenantDatabases.sharedUrl });
    services.push(tenant);
    const registry = { TENANT_REGISTRY_URL: tenant.url.replace(/\/graphql$/, '/internal/tenants') };
    const product = await startServiceProcess(folder('product'), { ...common, ...registry, DATABASE_URL: productDatabases.sharedUrl });
    services.push(product);
    productUrl = product.url;
    gatewayEnvironment = {
      ...common,
      ...registry,
      SUBGRAPH_TENANT_URL: tenant.url,
      SUBGRAPH_PRODUCT_URL: product.url,
      SUBGRAPH_ORDER_URL: 'http://127.0.0.1:9/graphql',
      SUBGRAPH_PROJECT_URL: 'http://127.0.0.1:9/graphql',
      // The request followed is the same as the first: from the entity cache it would reach no subgraph.
      ENTITY_CACHE: 'off',
    };
    const gateway = await startServiceProcess(folder('gateway'), gatewayEnvironment);
    services.push(gateway);
    gatewayUrl = gateway.url;
  }, 180_000);

  afterAll(async () => {
    for (const service of services.reverse()) await service.stop();
    for (const database of databases) await database.drop();
    await auth?.close();
    await receiver?.close();
  });

  it('follows one request from the gateway through each subgraph it calls to their SQL, every span naming the tenant', async () => {
    const token = await auth.token('avocado');
    const query = 'query CatalogueOfTenant($first: Int) { tenant { name products(first: $first) { nodes { name } } } }';
    // The first request fetches the signing keys and the tenant list: work done before a tenant is known.
    expect((await graphql(gatewayUrl, { query, variables: { first: 2 }, token })).body.errors).toBeUndefined();
    // A client's own trace context is not continued (TRACING_TRUST_CLIENT is off): the gateway starts the trace.
    const clientTraceId = 'c1'.repeat(16);
    const answer = await graphql(gatewayUrl, {
      query,
      variables: { first: 2 },
      token,
      headers: { traceparent: `00-${clientTraceId}-${'d2'.repeat(8)}-01` },
    });
    expect(answer.body).toEqual({ data: { tenant: { name: 'Avocado Inc', products: { nodes: [] } } } });
    const requestId = answer.headers.get('x-request-id');

    const root = await until('the gateway span of the request', () =>
      receiver.spans.find((span) => span.service === 'gateway' && span.attributes['request.id'] === requestId && span.parentSpanId === ''),
    );
    expect(root.traceId).not.toBe(clientTraceId);
    const trace = await until('the SQL spans of both subgraphs', () => {
      const spans = receiver.spans.filter((span) => span.traceId === root.traceId);
      const sqlBy = (service: string) =>
        spans.some((span) => span.service === service && span.attributes['db.system.name'] === 'postgresql');
      return sqlBy('tenant') && sqlBy('product') ? spans : undefined;
    });
    // Spans still arriving from the batch exporters.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const spans = receiver.spans.filter((span) => span.traceId === root.traceId);
    expect(spans.length).toBeGreaterThanOrEqual(trace.length);

    expect(root).toMatchObject({ name: 'POST /graphql', attributes: { 'tenant.id': 'avocado' } });
    const operation = spans.find((span) => span.service === 'gateway' && span.name === 'graphql.operation');
    expect(operation?.attributes).toMatchObject({ 'graphql.operation.name': 'CatalogueOfTenant', 'graphql.operation.type': 'query' });
    // @apollo/gateway's execution and one fetch per subgraph called (the plan was cached by the first request).
    expect(spans.filter((span) => span.name === 'gateway.execute')).toHaveLength(1);
    expect(spans.filter((span) => span.name === 'gateway.fetch').length).toBeGreaterThanOrEqual(2);
    // Each subgraph's server span is a child of a gateway span: the trace context went along.
    const byId = new Map(spans.map((span) => [span.spanId, span]));
    for (const service of ['tenant', 'product']) {
      const server = spans.find((span) => span.service === service && span.name === 'POST /graphql');
      expect(server, `${service} server span`).toBeDefined();
      expect(byId.get(server!.parentSpanId)?.service).toBe('gateway');
      expect(spans.some((span) => span.service === service && span.name === 'graphql.operation')).toBe(true);
    }
    expect(spans.some((span) => span.service === 'product' && span.name === 'Query._entities')).toBe(true);
    const sql = spans.filter((span) => span.attributes['db.system.name'] === 'postgresql');
    expect(sql.some((span) => String(span.attributes['db.query.text']).includes('from "product"'))).toBe(true);
    // The spans keep the statement with its placeholders, never a value (the tenant nor the page size, 2).
    for (const span of sql) expect(String(span.attributes['db.query.text']).replace(/\$\d+/g, '$n')).not.toMatch(/'|avocado|\b2\b/);
    expect(sql.some((span) => String(span.attributes['db.query.text']).includes('$1'))).toBe(true);

    for (const span of spans) {
      expect({ span: `${span.service} ${span.name}`, tenant: span.attributes['tenant.id'] }).toEqual({
        span: `${span.service} ${span.name}`,
        tenant: 'avocado',
      });
      expect(span.raw).not.toContain(token);
      expect(span.raw).not.toMatch(/bearer/i);
    }
    // With tracing on, the request's record rides in the trace context: metrics and access lines still name the tenant.
    const [, product, gateway] = services as [ServiceProcess, ServiceProcess, ServiceProcess];
    const metricsOf = async (service: ServiceProcess) => (await fetch(service.metricsUrl)).text();
    expect(await metricsOf(product)).toMatch(/^db_query_duration_seconds_count\{service="product",tenant="avocado"\} [1-9]/m);
    expect(await metricsOf(gateway)).toMatch(
      /^graphql_request_duration_seconds_count\{service="gateway",tenant="avocado",operation="CatalogueOfTenant",type="query",outcome="OK"\} 2$/m,
    );
    expect(gateway.lines.some((line) => line.includes(`"requestId":"${requestId}"`) && line.includes('"tenant":"avocado"'))).toBe(true);
  }, 120_000);

  it('traces a subgraph request whose trace the gateway sampled, and exports nothing of one it did not', async () => {
    const token = await auth.token('avocado');
    const query =
      '{ _entities(representations: [{ __typename: "Tenant", id: "avocado" }]) { ... on Tenant { products(first: 1) { nodes { name } } } } }';
    const [sampled, unsampled] = ['a1'.repeat(16), 'b2'.repeat(16)];
    for (const [traceId, flags] of [
      [unsampled, '00'],
      [sampled, '01'],
    ]) {
      const answer = await graphql(productUrl, { query, token, headers: { traceparent: `00-${traceId}-${'e3'.repeat(8)}-${flags}` } });
      expect(answer.body.errors).toBeUndefined();
    }
    await until("the sampled request's SQL span", () =>
      receiver.spans.find((span) => span.traceId === sampled && span.attributes['db.system.name'] === 'postgresql'),
    );
    // Spans of the unsampled request would have been exported in the same batches as the sampled one's.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receiver.spans.filter((span) => span.traceId === unsampled)).toEqual([]);
  }, 60_000);

  it("tells the subgraphs when the gateway did not sample a request's trace, and nothing of it is exported anywhere", async () => {
    // The subgraphs sample whatever starts a trace with them; only the gateway's word keeps them from it.
    const quiet = await startServiceProcess(folder('gateway'), { ...gatewayEnvironment, OTEL_TRACES_SAMPLER: 'always_off' });
    try {
      const token = await auth.token('avocado');
      const before = receiver.spans.length;
      const answer = await graphql(quiet.url, { token, query: '{ tenant { id name products(first: 1) { totalCount } } }' });
      expect(answer.body.errors).toBeUndefined();
      // A sampled request straight to the product subgraph, exported in the same batches as anything of the first would be.
      const marker = 'c4'.repeat(16);
      await graphql(productUrl, {
        query:
          '{ _entities(representations: [{ __typename: "Tenant", id: "avocado" }]) { ... on Tenant { products(first: 1) { totalCount } } } }',
        token,
        headers: { traceparent: `00-${marker}-${'e3'.repeat(8)}-01` },
      });
      await until("the marker request's spans", () => receiver.spans.find((span) => span.traceId === marker));
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(receiver.spans.slice(before).filter((span) => span.traceId !== marker)).toEqual([]);
    } finally {
      await quiet.stop();
    }
  }, 120_000);
});
