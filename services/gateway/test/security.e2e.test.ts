import { randomBytes } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import { connect, withTenant } from '@tenantgraph/database';
import { createIssuer } from '@tenantgraph/devkit';
import { DEFAULT_CONCURRENCY } from '@tenantgraph/server-kit';
import { auditConnectionRole, auditRowLevelSecurity, codes, freePort, graphql, sql } from '@tenantgraph/testkit';
import { Redis } from 'ioredis';
import { describe, expect } from 'vitest';
import { memoryRateLimiter, redisRateLimiter } from '../src/server.ts';
import { type Stack, stackTest } from './stack.ts';

const it = stackTest;

const SUBGRAPHS = ['tenant', 'product', 'order', 'project', 'analytics'] as const;
type Transaction = Parameters<Parameters<typeof withTenant<any, unknown>>[2]>[0];
const WRITE_ALL = ['tenant:admin', 'products:write', 'orders:write', 'projects:write'];

/** A raw HTTP/1.1 exchange over a socket: the status line and body, whatever the client sent. */
function rawHttp(url: string, head: string, body = ''): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(Number(port), hostname);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      text += chunk;
    });
    socket.on('error', () => {}); // the server may close while we still write: read what it said
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      status ? resolve({ status, text }) : reject(new Error(`no HTTP answer: ${text.slice(0, 100)}`));
    });
    socket.setTimeout(5_000, () => socket.destroy());
    socket.write(`${head}\r\nconnection: close\r\n\r\n${body}`);
  });
}

/** A request with a chosen method, content type and raw body. */
async function send(url: string, init: { method?: string; headers?: Record<string, string>; body?: string; search?: string }) {
  const response = await fetch(`${url}${init.search ?? ''}`, { method: init.method ?? 'POST', headers: init.headers, body: init.body });
  const text = await response.text();
  return { status: response.status, text, headers: response.headers };
}

describe('hostile clients at the gateway (graphql-cop probes and limits)', () => {
  it('answers a 300 KB header with 431, not 500, and keeps serving', async ({ stack }) => {
    const path = new URL(stack.gatewayUrl).pathname;
    const huge = await rawHttp(stack.gatewayUrl, `POST ${path} HTTP/1.1\r\nhost: x\r\nx-filler: ${'a'.repeat(300_000)}`);
    expect(huge.status).toBe(431);
    const bigToken = await rawHttp(stack.gatewayUrl, `POST ${path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${'a'.repeat(300_000)}`);
    expect([400, 431]).toContain(bigToken.status);
    const ok = await graphql(stack.gatewayUrl, { token: await stack.auth.token('avocado'), query: '{ tenant { id } }' });
    expect(ok.body.data.tenant.id).toBe('avocado');
  });

  it('refuses alg none, a rogue signer and a malformed tenant with 401', async ({ stack }) => {
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const none = `${b64({ alg: 'none' })}.${b64({ iss: stack.auth.issuer.issuer, aud: stack.auth.issuer.audience, tenant: 'avocado', exp: 9e9 })}.`;
    const arrayTenant = await stack.auth.token('avocado', [], { extra: { tenant: ['avocado', 'mango'] } });
    const emptyTenant = await stack.auth.token('', []);
    const rogue = await (await createIssuer(stack.auth.issuer.issuer, stack.auth.issuer.audience)).sign({ tenant: 'avocado' });
    for (const token of [none, arrayTenant, emptyTenant, rogue]) {
      const response = await graphql(stack.gatewayUrl, { token, query: '{ tenant { id } }' });
      expect(response.status).toBe(401);
      expect(codes(response)).toEqual(['UNAUTHENTICATED']);
    }
  });

  it('refuses a query deeper than the limit', async ({ stack }) => {
    const deep = '{ tenant { products { nodes { tenant { products { nodes { tenant { products { nodes { tenant { id } } } } } } } } } } }';
    const response = await graphql(stack.gatewayUrl, { token: await stack.auth.token('avocado'), query: deep });
    expect(response.status).toBe(400);
    expect(codes(response)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  });

  it('refuses alias overloading', async ({ stack }) => {
    const aliases = Array.from({ length: 100 }, (_, i) => `a${i}: tenant { id }`).join(' ');
    const response = await graphql(stack.gatewayUrl, { token: await stack.auth.token('avocado'), query: `{ ${aliases} }` });
    expect(response.status).toBe(400);
    expect(codes(response)).toContain('GRAPHQL_VALIDATION_FAILED');
  });

  it('refuses directive overloading, known or unknown directives alike', async ({ stack }) => {
    const token = await stack.auth.token('avocado');
    for (const directive of ['@include(if: true)', '@aa']) {
      const response = await graphql(stack.gatewayUrl, { token, query: `{ tenant { id ${directive.repeat(50)} } }` });
      expect(response.status).toBe(400);
      expect(codes(response)).toContain('GRAPHQL_VALIDATION_FAILED');
    }
  });

  it('refuses a document with too many tokens before validating it', async ({ stack }) => {
    const fields = Array.from({ length: 2_500 }, () => '__typename').join(' ');
    const response = await graphql(stack.gatewayUrl, { token: await stack.auth.token('avocado'), query: `{ tenant { ${fields} } }` });
    expect(response.status).toBe(400);
    expect(codes(response)).toEqual(['GRAPHQL_PARSE_FAILED']);
  });

  it("refuses a query over the plan's cost budget with QUERY_TOO_EXPENSIVE, and the budget is configurable", async ({ stack }) => {
    const token = await stack.auth.token('avocado');
    // The dashboard's tenant selection (cost ≈ 2,700, allowed) three times over: every other limit holds.
    const body = `id slug name plan createdAt
      products(first: 10) { totalCount pageInfo { hasNextPage endCursor } nodes { id sku name priceCents currency stock createdAt unitsOrdered tenant { id name } } }
      orders(first: 10) { totalCount nodes { id number status currency totalCents placedAt tenant { id } lines { quantity unitPriceCents product { id name } } } }
      organizations { id name subscriptionTier memberCount tenant { id } projects { id name } }
      projects(first: 10) { totalCount nodes { id name createdAt taskCount organization { name } tasks { id title status createdAt } tenant { id } } }`;
    const strict = await stack.startGateway({ queryBudgets: { PRO: 5_000 } });
    const once = await graphql(strict.url, { token, query: `{ tenant { ${body} } }` });
    expect(once.body.errors).toBeUndefined();
    const costly = await graphql(strict.url, { token, query: `{ a: tenant { ${body} } b: tenant { ${body} } c: tenant { ${body} } }` });
    expect(costly.status).toBe(400);
    expect(codes(costly)).toEqual(['QUERY_TOO_EXPENSIVE']);
    expect(costly.body.errors?.[0]?.extensions).toMatchObject({ limit: 5_000, cost: expect.any(Number) });

    const tiny = await stack.startGateway({ queryBudgets: { PRO: 20 } });
    const small = await graphql(tiny.url, { token, query: '{ tenant { id } }' });
    expect(small.body.data.tenant.id).toBe('avocado');
    const medium = await graphql(tiny.url, { token, query: '{ tenant { products { nodes { id name sku priceCents } } } }' });
    expect(codes(medium)).toEqual(['QUERY_TOO_EXPENSIVE']);
    await Promise.all([strict.stop(), tiny.stop()]);
  });

  it('refuses batched requests (a JSON array body)', async ({ stack }) => {
    const response = await send(stack.gatewayUrl, {
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await stack.auth.token('avocado')}` },
      body: JSON.stringify([{ query: '{ tenant { id } }' }, { query: '{ viewer { id } }' }]),
    });
    expect(response.status).toBe(400);
    expect(response.text).not.toContain('"avocado"');
  });

  it('refuses a body over 1 MB with 413', async ({ stack }) => {
    const response = await send(stack.gatewayUrl, {
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await stack.auth.token('avocado')}` },
      body: JSON.stringify({ query: `{ tenant { id } } # ${'x'.repeat(1_100_000)}` }),
    });
    expect(response.status).toBe(413);
  });

  it('refuses mutations over GET and CSRF-able simple requests', async ({ stack }) => {
    const auth = { authorization: `Bearer ${await stack.auth.token('avocado', WRITE_ALL)}` };
    const mutation = 'mutation { createProduct(input: { sku: "csrf", name: "CSRF", priceCents: 1 }) { id } }';
    const getMutation = await send(stack.gatewayUrl, {
      method: 'GET',
      headers: { ...auth, 'apollo-require-preflight': 'true' },
      search: `?query=${encodeURIComponent(mutation)}`,
    });
    expect(getMutation.status).toBe(405);
    const getSimple = await send(stack.gatewayUrl, {
      method: 'GET',
      headers: { ...auth, 'content-type': 'text/plain' },
      search: '?query=%7Btenant%7Bid%7D%7D',
    });
    expect(getSimple.status).toBe(400);
    expect(getSimple.text).toMatch(/CSRF/i);
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const post = await send(stack.gatewayUrl, {
        headers: { ...auth, 'content-type': contentType },
        body: JSON.stringify({ query: mutation }),
      });
      expect(post.status, contentType).toBe(400);
    }
    const preflighted = await send(stack.gatewayUrl, {
      method: 'GET',
      headers: { ...auth, 'apollo-require-preflight': 'true' },
      search: '?query=%7Btenant%7Bid%7D%7D',
    });
    expect(preflighted.status).toBe(200);
    const products = await graphql(stack.gatewayUrl, {
      token: await stack.auth.token('avocado'),
      query: '{ tenant { products(first: 100) { nodes { sku } } } }',
    });
    expect(products.body.data.tenant.products.nodes).not.toContainEqual({ sku: 'csrf' });
  });

  it('in production: no introspection and no "Did you mean" suggestions', async ({ stack }) => {
    const token = await stack.auth.token('avocado');
    const typo = '{ tenant { nmae } }';
    const introspection = '{ __schema { types { name } } }';
    const development = await stack.startGateway({ production: false });
    expect(JSON.stringify((await graphql(development.url, { token, query: typo })).body)).toContain('Did you mean');
    expect((await graphql(development.url, { token, query: introspection })).body.data.__schema.types.length).toBeGreaterThan(5);
    await development.stop();

    const production = await stack.startGateway({ production: true });
    const hinted = await graphql(production.url, { token, query: typo });
    expect(hinted.status).toBe(400);
    expect(JSON.stringify(hinted.body)).not.toMatch(/Did you mean|name/);
    for (const query of [introspection, '{ __type(name: "Tenant") { fields { name } } }']) {
      const refused = await graphql(production.url, { token, query });
      expect(refused.status).toBe(400);
      expect(codes(refused)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
      expect(refused.body.data).toBeUndefined();
    }
    await production.stop();
  });

  it('refuses circular introspection even where introspection is on', async ({ stack }) => {
    const circular = '{ __schema { types { fields { type { fields { type { fields { type { name } } } } } } } } }';
    const viaFragments = `{ __schema { types { ...A } } }
      fragment A on __Type { fields { type { ...B } } }
      fragment B on __Type { fields { type { name } } }`;
    const token = await stack.auth.token('avocado');
    for (const query of [circular, viaFragments]) {
      const response = await graphql(stack.gatewayUrl, { token, query });
      expect(response.status).toBe(400);
      expect(JSON.stringify(response.body)).toContain('Circular introspection');
    }
    const standard = await graphql(stack.gatewayUrl, {
      token,
      query: '{ __schema { types { name fields { name type { name ofType { name ofType { name } } } } inputFields { name } } } }',
    });
    expect(standard.body.errors).toBeUndefined();
  });

  it('never returns inline traces (ftv1), at the gateway or at a subgraph', async ({ stack }) => {
    const token = await stack.auth.token('avocado');
    const headers = { 'apollo-federation-include-trace': 'ftv1' };
    const viaGateway = await graphql(stack.gatewayUrl, { token, query: '{ tenant { id products { totalCount } } }', headers });
    expect(viaGateway.body.data.tenant.id).toBe('avocado');
    expect(JSON.stringify(viaGateway.body)).not.toContain('ftv1');
    for (const name of SUBGRAPHS) {
      const direct = await graphql(stack.subgraphUrls[name], { token, query: '{ __typename }', headers });
      expect(direct.body.data).toEqual({ __typename: 'Query' });
      expect(JSON.stringify(direct.body), name).not.toContain('ftv1');
    }
  });
});

describe('subgraphs are not a side door', () => {
  it('each subgraph answers 401 without a valid token, before reading the body', async ({ stack }) => {
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const none = `${b64({ alg: 'none' })}.${b64({ tenant: 'avocado', exp: 9e9 })}.`;
    for (const name of SUBGRAPHS) {
      const url = stack.subgraphUrls[name];
      const before = stack.metrics[name].requestCount();
      for (const authorization of [undefined, `Bearer ${none}`, `Bearer ${await stack.auth.token('avocado')}x`]) {
        // The body is not even JSON: a 401 rather than a 400 shows it was never read.
        const response = await send(url, {
          headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
          body: '{ not json',
        });
        expect(response.status, name).toBe(401);
        expect(JSON.parse(response.text).errors[0].extensions.code).toBe('UNAUTHENTICATED');
      }
      expect(stack.metrics[name].requestCount()).toBe(before);
    }
  });

  it("each subgraph answers FORBIDDEN for another tenant's representation", async ({ stack }) => {
    const token = await stack.auth.token('avocado');
    const otherId = 'papaya:00000000-0000-4000-8000-000000000000';
    const attempts: [string, string][] = [
      ...SUBGRAPHS.map(
        (name) =>
          [name, '{ _entities(representations: [{ __typename: "Tenant", id: "mango" }]) { ... on Tenant { id } } }'] as [string, string],
      ),
      ['product', `{ _entities(representations: [{ __typename: "Product", id: "${otherId}" }]) { ... on Product { id name } } }`],
      ['order', `{ _entities(representations: [{ __typename: "Order", id: "${otherId}" }]) { ... on Order { id } } }`],
      ['project', `{ _entities(representations: [{ __typename: "Project", id: "${otherId}" }]) { ... on Project { id name } } }`],
      ['project', `{ _entities(representations: [{ __typename: "Organization", id: "${otherId}" }]) { ... on Organization { id name } } }`],
    ];
    for (const [name, query] of attempts) {
      const response = await graphql(stack.subgraphUrls[name as (typeof SUBGRAPHS)[number]], { token, query });
      expect(codes(response), `${name}: ${query}`).toEqual(['FORBIDDEN']);
    }
  });

  it('a spoofed tenant header sent straight to a subgraph changes nothing', async ({ stack }) => {
    const token = await stack.auth.token('avocado');
    for (const name of ['product', 'order', 'project'] as const) {
      const response = await graphql(stack.subgraphUrls[name], {
        token,
        query: '{ _entities(representations: [{ __typename: "Tenant", id: "avocado" }]) { ... on Tenant { id } } }',
        headers: { 'x-tenant-id': 'mango' },
      });
      expect(response.body.data._entities).toEqual([{ id: 'avocado' }]);
    }
  });

  it('no subgraph serves introspection or _service, even to a valid token', async ({ stack }) => {
    const token = await stack.auth.token('avocado');
    for (const name of SUBGRAPHS) {
      for (const query of ['{ __schema { types { name } } }', '{ __type(name: "Query") { name } }', '{ _service { sdl } }']) {
        const response = await graphql(stack.subgraphUrls[name], { token, query });
        expect(response.status, `${name} ${query}`).toBe(400);
        expect(codes(response)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
        expect(JSON.stringify(response.body)).not.toMatch(/extend schema|@key|Did you mean/);
      }
    }
  });
});

describe('per-tenant rate limit', () => {
  const limited = { FREE: { perSecond: 1, burst: 3 }, PRO: { perSecond: 100, burst: 200 }, ENTERPRISE: { perSecond: 100, burst: 200 } };

  async function burst(stack: Stack, url: string, tenant: string, count: number) {
    const token = await stack.auth.token(tenant);
    return Promise.all(
      Array.from({ length: count }, () =>
        send(url, {
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: '{ tenant { id } }' }),
        }),
      ),
    );
  }

  /** Redis at REDIS_URL (127.0.0.1:6379 by default), when one answers: `pnpm test` must also pass without. */
  async function reachableRedis() {
    const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
      maxRetriesPerRequest: 0,
      lazyConnect: true,
      connectTimeout: 500,
      retryStrategy: () => null,
    });
    try {
      await redis.connect();
      await redis.ping();
      return redis;
    } catch {
      redis.disconnect();
      return undefined;
    }
  }

  async function expectLimited(stack: Stack, url: string) {
    const before = stack.metrics.tenant.requestCount();
    const papaya = await burst(stack, url, 'papaya', 8);
    const statuses = papaya.map((response) => response.status).sort();
    expect(statuses.filter((status) => status === 200)).toHaveLength(3);
    expect(statuses.filter((status) => status === 429)).toHaveLength(5);
    const refused = papaya.find((response) => response.status === 429);
    expect(Number(refused?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(refused?.text ?? '{}').errors[0].extensions.code).toBe('TOO_MANY_REQUESTS');
    // Refused requests never reached a subgraph: only the three admitted ones did.
    expect(stack.metrics.tenant.requestCount() - before).toBe(3);
    // Another tenant, as many at once as its plan may hold in flight (PRO: 16), so only a rate limit could refuse one.
    const avocado = await burst(stack, url, 'avocado', DEFAULT_CONCURRENCY.perTenant.PRO);
    expect(avocado.map((response) => response.status)).toEqual(Array(DEFAULT_CONCURRENCY.perTenant.PRO).fill(200));
  }

  it("answers 429 with Retry-After to a tenant over its plan's burst, and not to another tenant (in memory)", async ({ stack }) => {
    const gateway = await stack.startGateway({ rateLimiter: memoryRateLimiter(), planLimits: limited });
    await expectLimited(stack, gateway.url);
    await gateway.stop();
  });

  it('shares the buckets through Redis when there is one, and keeps limiting with its own buckets when Redis is unreachable', async ({
    stack,
  }) => {
    const redis = await reachableRedis();
    if (redis) {
      const prefix = `test:${randomBytes(6).toString('hex')}:`;
      // Refilled slowly, so that no token comes back however long the bursts take on a loaded machine.
      const slow = { ...limited, FREE: { perSecond: 0.01, burst: 3 } };
      const gateway = await stack.startGateway({ rateLimiter: redisRateLimiter(redis, { prefix }), planLimits: slow });
      // A second replica on the same Redis sees the same, now empty, bucket.
      const replica = await stack.startGateway({ rateLimiter: redisRateLimiter(redis.duplicate(), { prefix }), planLimits: slow });
      await expectLimited(stack, gateway.url);
      expect((await burst(stack, replica.url, 'papaya', 1))[0]?.status).toBe(429);
      await replica.stop();
      await gateway.stop();
    }
    const dead = new Redis(`redis://127.0.0.1:${await freePort()}`, {
      maxRetriesPerRequest: 0,
      commandTimeout: 200,
      retryStrategy: () => null,
      lazyConnect: true,
    });
    const outage = await stack.startGateway({ rateLimiter: redisRateLimiter(dead), planLimits: limited });
    await expectLimited(stack, outage.url);
    await outage.stop();
  });

  it('refills the bucket over time', async ({ stack }) => {
    const gateway = await stack.startGateway({ planLimits: { FREE: { perSecond: 10, burst: 1 } } });
    expect((await burst(stack, gateway.url, 'papaya', 2)).map((r) => r.status).sort()).toEqual([200, 429]);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await burst(stack, gateway.url, 'papaya', 1)).map((r) => r.status)).toEqual([200]);
    await gateway.stop();
  });
});

describe('row-level security as defence in depth', () => {
  /** Every database of the stack: each service's shared one, and mango's dedicated ones. */
  const allDatabases = (stack: Stack) =>
    SUBGRAPHS.flatMap((name) => [
      { name, url: stack.databases[name].sharedUrl },
      ...(name === 'tenant' ? [] : [{ name, url: stack.databases[name].dedicatedUrl('mango') }]),
    ]);

  it('every tenant-owned table in every database has RLS enabled and forced, a tenant policy for reads and writes, and tenant-scoped uniques', async ({
    stack,
  }) => {
    let audited = 0;
    for (const { name, url } of allDatabases(stack)) {
      const { tables, views } = await auditRowLevelSecurity(stack.databases[name].asAdmin(url));
      for (const table of tables) {
        // Migration bookkeeping holds no tenant data.
        if (table.table.startsWith('kysely_migration')) continue;
        const where = `${name}.${table.table}`;
        // The registry's rows are tenants: its key column is its id.
        const key = name === 'tenant' && table.table === 'tenant' ? 'id' : 'tenant_id';
        expect(table.hasTenantId || key === 'id', `${where} has no tenant_id`).toBe(true);
        expect({ where, enabled: table.enabled, forced: table.forced }).toEqual({ where, enabled: true, forced: true });
        const isolation = table.policies.find(
          (policy) => policy.command === '*' && policy.using?.includes("current_setting('app.tenant_id'"),
        );
        expect(isolation, where).toBeDefined();
        expect(isolation?.using).toContain(`${key} = current_setting('app.tenant_id'`);
        expect(isolation?.check).toContain(`${key} = current_setting('app.tenant_id'`);
        // Any other policy may only read (the registry listing), never write.
        for (const other of table.policies.filter((policy) => policy !== isolation))
          expect(other.command, `${where} ${other.name}`).toBe('r');
        // Uniques include the tenant, so one tenant's keys never collide with (or probe) another's.
        // The registry's slug is global by design: it names the tenant itself.
        if (key === 'tenant_id') {
          expect(table.uniques.length, `${where} has a key`).toBeGreaterThan(0);
          for (const unique of table.uniques) expect(unique, where).toMatchObject({ scoped: true });
        }
        audited++;
      }
      expect(
        views.filter((view) => view.kind === 'm'),
        `${name}: no materialized views (RLS cannot apply)`,
      ).toEqual([]);
      for (const view of views) expect(view, `${name} view`).toMatchObject({ securityInvoker: true });
    }
    // tenant(1), then product(1) + order(3) + project(4), each with its outbox, and analytics(2), in the shared and in mango's databases.
    expect(audited).toBe(1 + 2 * (2 + 4 + 5 + 2));
  });

  it('the services connect as roles that are neither superuser, nor BYPASSRLS, nor owners', async ({ stack }) => {
    for (const { name, url } of allDatabases(stack)) {
      const role = await auditConnectionRole(url);
      expect(role, name).toMatchObject({
        superuser: false,
        bypassRls: false,
        createRole: false,
        createDb: false,
        ownedRelations: 0,
        ownsDatabase: false,
      });
    }
  });

  it('a query that forgets "where tenant_id" still sees one tenant, and no tenant means no rows', async ({ stack }) => {
    // Two tenants side by side in the shared databases, with rows in every table.
    for (const tenant of ['avocado', 'papaya']) {
      const token = await stack.auth.token(tenant, WRITE_ALL);
      const call = async (query: string, variables: Record<string, unknown> = {}) => {
        const response = await graphql(stack.gatewayUrl, { token, query, variables });
        expect(response.body.errors, JSON.stringify(response.body.errors)).toBeUndefined();
        return response.body.data;
      };
      const { createProduct } = await call('mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }', {
        i: { sku: `rls-${tenant}`, name: `rls ${tenant}`, priceCents: 100 },
      });
      await call('mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { id } }', {
        i: { lines: [{ productId: createProduct.id, quantity: 1 }] },
      });
      const { createOrganization } = await call('mutation { createOrganization(input: { name: "rls org" }) { id } }');
      await call('mutation($i: AddMemberInput!) { addMember(input: $i) { id } }', {
        i: { organizationId: createOrganization.id, name: 'Ada', email: `ada@${tenant}.example` },
      });
      const { createProject } = await call(
        'mutation($o: ID!) { createProject(input: { organizationId: $o, name: "rls project" }) { id } }',
        {
          o: createOrganization.id,
        },
      );
      await call('mutation($p: ID!) { createTask(input: { projectId: $p, title: "rls task" }) { id } }', { p: createProject.id });
    }
    let checked = 0;
    for (const name of ['product', 'order', 'project'] as const) {
      const db = connect<any>(stack.databases[name].sharedUrl, { max: 2 });
      try {
        const { rows: tables } = await sql<{ table: string }>`
          select table_name as table from information_schema.columns where table_schema = 'public' and column_name = 'tenant_id'`.execute(
          db,
        );
        for (const { table } of tables) {
          for (const tenant of ['avocado', 'papaya']) {
            const seen = await withTenant(db, tenant, (trx) =>
              sql<{ tenant_id: string }>`select tenant_id from ${sql.id(table)}`.execute(trx),
            );
            expect(seen.rows.length, `${name}.${table} as ${tenant}`).toBeGreaterThan(0);
            expect(new Set(seen.rows.map((row) => row.tenant_id)), `${name}.${table}`).toEqual(new Set([tenant]));
          }
          const untenanted = await sql<{ count: number }>`select count(*)::int as count from ${sql.id(table)}`.execute(db);
          expect(untenanted.rows[0]?.count, `${name}.${table} with no tenant`).toBe(0);
          // Moving a row to another tenant is refused by the policy's WITH CHECK.
          await expect(
            withTenant(db, 'avocado', (trx) => sql`update ${sql.id(table)} set tenant_id = 'papaya'`.execute(trx)),
          ).rejects.toThrow(/row-level security/);
          checked++;
        }
      } finally {
        await db.destroy();
      }
    }
    // product(1) + order(3) + project(4), each with its outbox.
    expect(checked).toBe(2 + 4 + 5);
  });

  it('a pooled connection that served tenant A and failed mid-transaction shows nothing of A to the next request', async ({ stack }) => {
    const db = connect<any>(stack.databases.product.sharedUrl, { max: 1 });
    try {
      const pid = async () => (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)).rows[0]?.pid;
      const connection = await pid();
      const failures = [
        (trx: Transaction) => sql`select 1 / 0`.execute(trx),
        async (trx: Transaction) => {
          const rows = await sql`select * from product`.execute(trx);
          expect(rows.rows.length).toBeGreaterThan(0);
          throw new Error('the application failed half way');
        },
      ];
      for (const fail of failures) {
        await expect(withTenant(db, 'avocado', fail)).rejects.toThrow();
        expect(await pid()).toBe(connection); // the very same connection serves the next request
        const setting = await sql<{ tenant: string | null }>`select current_setting('app.tenant_id', true) as tenant`.execute(db);
        expect(setting.rows[0]?.tenant ?? '').toBe('');
        const count = await sql<{ count: number }>`select count(*)::int as count from product`.execute(db);
        expect(count.rows[0]?.count).toBe(0);
        const papaya = await withTenant(db, 'papaya', (trx) => sql<{ tenant_id: string }>`select tenant_id from product`.execute(trx));
        expect(papaya.rows.length).toBeGreaterThan(0);
        expect(new Set(papaya.rows.map((row) => row.tenant_id))).toEqual(new Set(['papaya']));
      }
    } finally {
      await db.destroy();
    }
  });
});
