import type { DomainEvent } from '@tenantgraph/events';
import { codes, graphql } from '@tenantgraph/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack.ts';

const WRITE_ALL = ['tenant:admin', 'products:write', 'orders:write', 'projects:write'];
const USAGE = '{ tenant { usage { productsCreated ordersPlaced ordersCancelled projectsCreated tasksCreated lastEventAt } } }';

/** Every mutation of the API, once each (bulkCreateProjects with three names), as `tenant`; what each returned. */
async function everyMutation(stack: Stack, tenant: string) {
  const token = await stack.auth.token(tenant, WRITE_ALL);
  const run = async (query: string, variables: Record<string, unknown>) => {
    const response = await graphql(stack.gatewayUrl, { token, query, variables });
    expect(response.body.errors, query).toBeUndefined();
    return Object.values(response.body.data as Record<string, any>)[0];
  };
  const product = await run('mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }', {
    i: { sku: `${tenant}-tea`, name: 'Tea', priceCents: 300 },
  });
  const order = await run('mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { id } }', {
    i: { lines: [{ productId: product.id, quantity: 2 }] },
  });
  await run('mutation($id: ID!) { cancelOrder(id: $id) { id } }', { id: order.id });
  const organization = await run('mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { id } }', { i: { name: 'Org' } });
  const project = await run('mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }', {
    i: { organizationId: organization.id, name: 'Launch' },
  });
  const bulk = await run('mutation($i: BulkCreateProjectsInput!) { bulkCreateProjects(input: $i) { id } }', {
    i: { organizationId: organization.id, names: ['A', 'B', 'C'] },
  });
  const task = await run('mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }', {
    i: { projectId: project.id, title: 'Ship' },
  });
  await run('mutation($id: ID!) { updateTaskStatus(id: $id, status: DONE) { id } }', { id: task.id });

  // Refused: a taken sku, a bulk creation with one taken name. Nothing of them is written, no event either.
  const refused = [
    await graphql(stack.gatewayUrl, {
      token,
      query: 'mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }',
      variables: { i: { sku: `${tenant}-tea`, name: 'Again', priceCents: 1 } },
    }),
    await graphql(stack.gatewayUrl, {
      token,
      query: 'mutation($i: BulkCreateProjectsInput!) { bulkCreateProjects(input: $i) { id } }',
      variables: { i: { organizationId: organization.id, names: ['D', 'Launch'] } },
    }),
  ];
  for (const response of refused) expect(codes(response)).toEqual(['BAD_USER_INPUT']);
  return { product, order, project, bulk, task };
}

describe.each(['postgres', 'nats'] as const)('domain events on the %s transport, end to end', (kind) => {
  let stack: Stack;
  const seen: DomainEvent[] = [];
  const SERVICES = ['product', 'order', 'project'];
  const serviceRank = (event: DomainEvent) => SERVICES.indexOf(event.type.startsWith('task.') ? 'project' : event.type.split('.')[0]!);
  beforeAll(async () => {
    stack = await startStack({ events: kind });
    await stack.events.transport.subscribe('all', (event) => seen.push(event));
  });
  afterAll(() => stack?.stop());

  it("turns every mutation into exactly one event of its tenant, and Tenant.usage through the gateway counts each tenant's own", async () => {
    const done = { avocado: await everyMutation(stack, 'avocado'), mango: await everyMutation(stack, 'mango') };
    const expected = { productsCreated: 1, ordersPlaced: 1, ordersCancelled: 1, projectsCreated: 4, tasksCreated: 1 };
    for (const tenant of ['avocado', 'mango'] as const) {
      const token = await stack.auth.token(tenant);
      await expect
        .poll(
          async () => {
            const usage = (await graphql(stack.gatewayUrl, { token, query: USAGE })).body.data?.tenant.usage;
            return usage && { ...usage, lastEventAt: null };
          },
          { timeout: 20_000, interval: 200 },
        )
        .toEqual({ ...expected, lastEventAt: null });
      // Each service's outbox is delivered in order; between services there is no order to expect.
      const ofTenant = () => seen.filter((event) => event.tenantId === tenant).sort((a, b) => serviceRank(a) - serviceRank(b));
      // mango lives in dedicated databases: its events flow like avocado's, from there. Usage counts no status
      // change, so its last event may still be on its way to this subscriber when usage is complete.
      await expect
        .poll(() => ofTenant().map((event) => event.type), { timeout: 20_000, interval: 100 })
        .toEqual([
          'product.created',
          'order.placed',
          'order.cancelled',
          'project.created',
          'project.created',
          'project.created',
          'project.created',
          'task.created',
          'task.status_changed',
        ]);
      const events = ofTenant();
      const ids = done[tenant];
      expect(events.map((event) => event.entityId)).toEqual([
        ids.product.id,
        ids.order.id,
        ids.order.id,
        ids.project.id,
        ...ids.bulk.map((project: { id: string }) => project.id),
        ids.task.id,
        ids.task.id,
      ]);
      expect(new Set(events.map((event) => event.id)).size).toBe(events.length);
      if (tenant === 'mango') expect(events.every((event) => event.source.endsWith('__mango'))).toBe(true);
    }
    // papaya did nothing: its counts never moved.
    const papaya = await graphql(stack.gatewayUrl, { token: await stack.auth.token('papaya'), query: USAGE });
    expect(papaya.body.data.tenant.usage).toEqual({
      productsCreated: 0,
      ordersPlaced: 0,
      ordersCancelled: 0,
      projectsCreated: 0,
      tasksCreated: 0,
      lastEventAt: null,
    });
  });

  it('counts a replayed tenant once: usage stays exact', async () => {
    const token = await stack.auth.token('avocado');
    const before = (await graphql(stack.gatewayUrl, { token, query: USAGE })).body.data.tenant.usage;
    expect(await stack.events.transport.replay({ tenantId: 'avocado', since: new Date(0) })).toBeGreaterThan(0);
    await expect.poll(() => stack.events.transport.lag('analytics_sync'), { timeout: 20_000, interval: 200 }).toBe(0);
    expect((await graphql(stack.gatewayUrl, { token, query: USAGE })).body.data.tenant.usage).toEqual(before);
  });
});
