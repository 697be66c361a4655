import { createHash } from 'node:crypto';
import { codes, graphql } from '@tenantgraph/testkit';
import { describe, expect } from 'vitest';
import { type Stack, stackTest } from './stack.ts';

const it = stackTest;

const WRITE_ALL = ['tenant:admin', 'products:write', 'orders:write', 'projects:write'];

/** Runs an operation through the gateway as a tenant; fails the test on any error. */
async function as(stack: Stack, tenant: string, query: string, variables: Record<string, unknown> = {}) {
  const response = await graphql(stack.gatewayUrl, { token: await stack.auth.token(tenant, WRITE_ALL), query, variables });
  expect(response.body.errors, JSON.stringify(response.body.errors)).toBeUndefined();
  return response.body.data;
}

/** What one tenant builds through every mutation of the contract. */
async function buildTenant(stack: Stack, tenant: string) {
  await as(stack, tenant, 'mutation($n: String!) { updateTenant(input: { name: $n }) { id } }', { n: `${tenant} renamed` });
  const p1 = (
    await as(stack, tenant, 'mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }', {
      i: { sku: `${tenant}-1`, name: `${tenant} product one`, priceCents: 1000, stock: 5 },
    })
  ).createProduct.id;
  const p2 = (
    await as(stack, tenant, 'mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }', {
      i: { sku: `${tenant}-2`, name: `${tenant} product two`, priceCents: 250 },
    })
  ).createProduct.id;
  const order = (
    await as(stack, tenant, 'mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { id number totalCents } }', {
      i: {
        lines: [
          { productId: p1, quantity: 2 },
          { productId: p2, quantity: 4 },
        ],
      },
    })
  ).placeOrder;
  const cancelled = (
    await as(stack, tenant, 'mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { id } }', {
      i: { lines: [{ productId: p2, quantity: 1 }] },
    })
  ).placeOrder.id;
  await as(stack, tenant, 'mutation($id: ID!) { cancelOrder(id: $id) { status } }', { id: cancelled });
  const org = (
    await as(stack, tenant, 'mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { id } }', {
      i: { name: `${tenant} org` },
    })
  ).createOrganization.id;
  const member = (
    await as(stack, tenant, 'mutation($i: AddMemberInput!) { addMember(input: $i) { id } }', {
      i: { organizationId: org, name: 'Ada', email: `ada@${tenant}.example` },
    })
  ).addMember.id;
  const project = (
    await as(stack, tenant, 'mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }', {
      i: { organizationId: org, name: `${tenant} launch` },
    })
  ).createProject.id;
  await as(stack, tenant, 'mutation($i: BulkCreateProjectsInput!) { bulkCreateProjects(input: $i) { id } }', {
    i: { organizationId: org, names: [`${tenant} bulk a`, `${tenant} bulk b`] },
  });
  const task = (
    await as(stack, tenant, 'mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }', {
      i: { projectId: project, title: `${tenant} first task` },
    })
  ).createTask.id;
  await as(stack, tenant, 'mutation($id: ID!) { updateTaskStatus(id: $id, status: DONE) { id status } }', { id: task });
  return { p1, p2, order: order.id, cancelled, org, member, project, task };
}

const DASHBOARD = `{
  viewer { id scopes tenant { id } }
  tenant {
    id slug name plan createdAt
    products(first: 10) { totalCount pageInfo { hasNextPage endCursor } nodes { id sku name priceCents currency stock createdAt unitsOrdered tenant { id name } } }
    orders(first: 10) { totalCount nodes { id number status currency totalCents placedAt tenant { id } lines { quantity unitPriceCents product { id name } } } }
    placed: orders(status: PLACED) { totalCount }
    organizations { id name subscriptionTier memberCount tenant { id } projects { id name } }
    projects(first: 10) { totalCount nodes { id name createdAt taskCount organization { name } tasks { id title status createdAt } tenant { id } } }
  }
}`;

describe('the supergraph through the gateway', () => {
  it('serves every operation of the contract to each tenant, and nothing of the other', async ({ stack }) => {
    const ids = { avocado: await buildTenant(stack, 'avocado'), mango: await buildTenant(stack, 'mango') };

    for (const [tenant, other] of [
      ['avocado', 'mango'],
      ['mango', 'avocado'],
    ] as const) {
      const data = await as(stack, tenant, DASHBOARD);
      expect(data.viewer).toEqual({ id: `user@${tenant}`, scopes: WRITE_ALL, tenant: { id: tenant } });
      expect(data.tenant).toMatchObject({ id: tenant, slug: tenant, name: `${tenant} renamed` });
      expect(data.tenant.products.totalCount).toBe(2);
      const [one, two] = data.tenant.products.nodes;
      expect(one).toMatchObject({
        id: ids[tenant].p1,
        priceCents: 1000,
        stock: 5,
        unitsOrdered: 2,
        tenant: { id: tenant, name: `${tenant} renamed` },
      });
      expect(two).toMatchObject({ id: ids[tenant].p2, unitsOrdered: 4 });
      expect(data.tenant.orders.totalCount).toBe(2);
      expect(data.tenant.placed.totalCount).toBe(1);
      const placed = data.tenant.orders.nodes.find((order: { id: string }) => order.id === ids[tenant].order);
      expect(placed).toMatchObject({ number: 1, status: 'PLACED', currency: 'USD', totalCents: 3000, tenant: { id: tenant } });
      expect(placed.lines).toEqual([
        { quantity: 2, unitPriceCents: 1000, product: { id: ids[tenant].p1, name: `${tenant} product one` } },
        { quantity: 4, unitPriceCents: 250, product: { id: ids[tenant].p2, name: `${tenant} product two` } },
      ]);
      expect(data.tenant.organizations).toEqual([
        expect.objectContaining({ name: `${tenant} org`, subscriptionTier: 'free', memberCount: 1, tenant: { id: tenant } }),
      ]);
      expect(data.tenant.organizations[0].projects).toHaveLength(3);
      expect(data.tenant.projects.totalCount).toBe(3);
      const launch = data.tenant.projects.nodes.find((project: { id: string }) => project.id === ids[tenant].project);
      expect(launch).toMatchObject({ taskCount: 1, organization: { name: `${tenant} org` }, tenant: { id: tenant } });
      expect(launch.tasks).toEqual([expect.objectContaining({ id: ids[tenant].task, status: 'DONE' })]);

      // Nothing of the other tenant anywhere in the answer: no id, no name.
      const text = JSON.stringify(data);
      expect(text).not.toContain(`${other}:`);
      expect(text).not.toContain(`${other} `);
    }
  });

  it("refuses every operation on the other tenant's ids with FORBIDDEN and changes nothing", async ({ stack }) => {
    const papaya = await buildTenant(stack, 'papaya');
    const attempts: [string, Record<string, unknown>][] = [
      ['query($id: ID!) { tenant { product(id: $id) { name } } }', { id: papaya.p1 }],
      ['query($id: ID!) { tenant { order(id: $id) { totalCents } } }', { id: papaya.order }],
      ['mutation($id: ID!) { cancelOrder(id: $id) { status } }', { id: papaya.order }],
      ['mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { id } }', { i: { lines: [{ productId: papaya.p1, quantity: 1 }] } }],
      [
        'mutation($i: AddMemberInput!) { addMember(input: $i) { id } }',
        { i: { organizationId: papaya.org, name: 'Eve', email: 'eve@x.example' } },
      ],
      ['mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }', { i: { organizationId: papaya.org, name: 'Intrusion' } }],
      [
        'mutation($i: BulkCreateProjectsInput!) { bulkCreateProjects(input: $i) { id } }',
        { i: { organizationId: papaya.org, names: ['X'] } },
      ],
      ['mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }', { i: { projectId: papaya.project, title: 'Intrusion' } }],
      ['mutation($id: ID!) { updateTaskStatus(id: $id, status: TODO) { id } }', { id: papaya.task }],
    ];
    const token = await stack.auth.token('avocado', WRITE_ALL);
    for (const [query, variables] of attempts) {
      const response = await graphql(stack.gatewayUrl, { token, query, variables });
      expect(codes(response), query).toEqual(['FORBIDDEN']);
      expect(JSON.stringify(response.body)).not.toContain('papaya ');
    }
    const after = await as(stack, 'papaya', DASHBOARD);
    expect(after.tenant.orders.nodes.find((order: { id: string }) => order.id === papaya.order).status).toBe('PLACED');
    expect(after.tenant.organizations[0].memberCount).toBe(1);
    expect(after.tenant.projects.totalCount).toBe(3);
    expect(after.tenant.projects.nodes.find((project: { id: string }) => project.id === papaya.project).tasks[0].status).toBe('DONE');
  });

  it('answers 401 UNAUTHENTICATED before any subgraph is called', async ({ stack }) => {
    const before = Object.values(stack.metrics).map((metrics) => metrics.requestCount());
    const missing = await graphql(stack.gatewayUrl, { query: '{ tenant { id } }' });
    const forged = await graphql(stack.gatewayUrl, { token: `${await stack.auth.token('avocado')}x`, query: '{ tenant { id } }' });
    const expired = await graphql(stack.gatewayUrl, {
      token: await stack.auth.token('avocado', [], { ttlSeconds: -60 }),
      query: '{ tenant { id } }',
    });
    for (const response of [missing, forged, expired]) {
      expect(response.status).toBe(401);
      expect(codes(response)).toEqual(['UNAUTHENTICATED']);
    }
    expect(Object.values(stack.metrics).map((metrics) => metrics.requestCount())).toEqual(before);
  });

  it('supports automatic persisted queries', async ({ stack }) => {
    const token = await stack.auth.token('avocado');
    const query = '{ tenant { id } }';
    const persistedQuery = { version: 1, sha256Hash: createHash('sha256').update(query).digest('hex') };
    const post = (body: unknown) =>
      fetch(stack.gatewayUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      }).then((response) => response.json() as Promise<any>);
    expect((await post({ extensions: { persistedQuery } })).errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    expect((await post({ query, extensions: { persistedQuery } })).data).toEqual({ tenant: { id: 'avocado' } });
    expect((await post({ extensions: { persistedQuery } })).data).toEqual({ tenant: { id: 'avocado' } });
  });

  it('is live and ready once its supergraph is loaded', async ({ stack }) => {
    const base = stack.gatewayUrl.replace('/graphql', '');
    expect((await fetch(`${base}/health`)).status).toBe(200);
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready' });
  });

  it('answers 403 UNKNOWN_TENANT for a valid token of an unregistered tenant', async ({ stack }) => {
    const response = await graphql(stack.gatewayUrl, { token: await stack.auth.token('kiwi'), query: '{ tenant { id } }' });
    expect(response.status).toBe(403);
    expect(codes(response)).toEqual(['UNKNOWN_TENANT']);
  });

  it('propagates the token, the verified tenant and the request id, and drops a spoofed tenant header', async ({ stack }) => {
    const token = await stack.auth.token('avocado');
    stack.productRequests.length = 0;
    const response = await graphql(stack.gatewayUrl, {
      token,
      query: '{ tenant { id products(first: 1) { totalCount } } }',
      headers: { 'x-tenant-id': 'mango', 'x-request-id': 'req-e2e-1' },
    });
    expect(response.body.data.tenant.id).toBe('avocado');
    expect(response.headers.get('x-request-id')).toBe('req-e2e-1');
    expect(stack.productRequests).toHaveLength(1);
    expect(stack.productRequests[0]).toMatchObject({
      authorization: `Bearer ${token}`,
      'x-tenant-id': 'avocado',
      'x-request-id': 'req-e2e-1',
    });
  });

  it('marks every tenant answer private and never shows a stack trace', async ({ stack }) => {
    const token = await stack.auth.token('avocado');
    const ok = await graphql(stack.gatewayUrl, { token, query: '{ tenant { id } }' });
    expect(ok.headers.get('cache-control')).toBe('private, no-store');
    const invalid = await graphql(stack.gatewayUrl, { token, query: '{ tenant { nope } }' });
    expect(invalid.status).toBe(400);
    expect(codes(invalid)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    const unparsable = await graphql(stack.gatewayUrl, { token, query: '{ tenant {' });
    expect(unparsable.status).toBe(400);
    expect(codes(unparsable)).toEqual(['GRAPHQL_PARSE_FAILED']);
    for (const response of [invalid, unparsable]) expect(JSON.stringify(response.body)).not.toMatch(/stacktrace|at .*\.ts:/);
  });

  it('passes BAD_USER_INPUT and NOT_FOUND from the subgraphs through unchanged', async ({ stack }) => {
    const token = await stack.auth.token('avocado', WRITE_ALL);
    const negative = await graphql(stack.gatewayUrl, {
      token,
      query: 'mutation { createProduct(input: { sku: "neg", name: "Negative", priceCents: -5 }) { id } }',
    });
    expect(negative.status).toBe(200);
    expect(codes(negative)).toEqual(['BAD_USER_INPUT']);
    const missing = await graphql(stack.gatewayUrl, {
      token,
      query: 'mutation { cancelOrder(id: "avocado:00000000-0000-4000-8000-000000000000") { id } }',
    });
    expect(codes(missing)).toEqual(['NOT_FOUND']);
    expect(JSON.stringify(missing.body)).not.toMatch(/serviceName|127\.0\.0\.1|select /i);
  });
});
