import { randomBytes, randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import type { DomainEvent, EventType } from '@tenantgraph/events';
import { graphql } from '@tenantgraph/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack.ts';
import { subscriber, until } from './subscriber.ts';

const WRITE = ['projects:write', 'orders:write', 'products:write'];

/** An event as a relay publishes it: for load beyond what mutations make. */
const eventOf = (tenantId: string, type: EventType, entityId: string): DomainEvent => ({
  id: randomUUID(),
  tenantId,
  type,
  entityId,
  payload: {},
  occurredAt: new Date().toISOString(),
  source: 'test',
});

const PROJECTS = 'subscription { projectCreated { name organization { name } tenant { name } } }';
const ORDERS = 'subscription { orderPlaced { number totalCents lines { quantity product { name } } } }';
const TASKS = 'subscription { taskStatusChanged { title status } }';

describe.each(['nats', 'postgres'] as const)('subscriptions through the gateway on %s', (kind) => {
  // The stack's rooms publish their events through relays: every event here comes from a mutation, unless said otherwise.
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ events: kind });
  }, 180_000);
  afterAll(async () => {
    await stack?.stop();
  });

  /** Runs a mutation through the gateway as `tenant`; its room's relay publishes its event once it commits. */
  async function mutate(tenant: string, query: string, variables: Record<string, unknown>) {
    const token = await stack.auth.token(tenant, WRITE);
    const { body } = await graphql(stack.gatewayUrl, { token, query, variables });
    expect(body.errors).toBeUndefined();
    return Object.values(body.data as Record<string, { id: string }>)[0]!;
  }

  it('shows two tenants subscribed to all three fields exactly their own events, in order, with fields of two subgraphs', async () => {
    const tenants = ['avocado', 'mango'] as const;
    const received = new Map<string, Record<'projects' | 'orders' | 'tasks', { results: any[] }>>();
    const sockets = [];
    for (const tenant of tenants) {
      const token = await stack.auth.token(tenant);
      // Two sockets for one tenant: they share its one transport subscription.
      const first = subscriber(stack.gatewayUrl, token, { 'x-tenant-id': 'mango', tenant: 'mango' });
      const second = subscriber(stack.gatewayUrl, token);
      sockets.push(first, second);
      received.set(tenant, { projects: first.subscribe(PROJECTS), orders: first.subscribe(ORDERS), tasks: second.subscribe(TASKS) });
    }
    await until(() => stack.openSubscriptions('avocado') === 3 && stack.openSubscriptions('mango') === 3, 'both tenants are subscribed');
    // The gauge an operator watches counts them too.
    expect(await stack.gatewayMetrics.registry.getSingleMetricAsString('graphql_subscriptions_open')).toMatch(
      /^graphql_subscriptions_open\{service="gateway"\} 6$/m,
    );

    const setup = new Map<string, { organization: string; product: string }>();
    for (const tenant of tenants) {
      const organization = await mutate(tenant, 'mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { id } }', {
        i: { name: `${tenant} org` },
      });
      const product = await mutate(tenant, 'mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }', {
        i: { sku: `${tenant}-sku`, name: `${tenant} widget`, priceCents: 250, stock: 100 },
      });
      setup.set(tenant, { organization: organization.id, product: product.id });
    }
    for (const round of [1, 2]) {
      for (const tenant of tenants) {
        const { organization, product } = setup.get(tenant)!;
        const project = await mutate(tenant, 'mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }', {
          i: { organizationId: organization, name: `${tenant} project ${round}` },
        });
        await mutate(tenant, 'mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { id } }', {
          i: { lines: [{ productId: product, quantity: round }] },
        });
        const task = await mutate(tenant, 'mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }', {
          i: { projectId: project.id, title: `${tenant} task ${round}` },
        });
        for (const status of ['DOING', 'DONE']) {
          await mutate(tenant, 'mutation($id: ID!, $s: TaskStatus!) { updateTaskStatus(id: $id, status: $s) { id } }', {
            id: task.id,
            s: status,
          });
        }
      }
    }
    for (const tenant of tenants) {
      const mine = received.get(tenant)!;
      await until(
        () => mine.projects.results.length === 2 && mine.orders.results.length === 2 && mine.tasks.results.length === 4,
        `${tenant} has every event`,
      );
      const name = tenant === 'avocado' ? 'Avocado Inc' : 'Mango Inc';
      expect(mine.projects.results).toEqual(
        [1, 2].map((round) => ({
          data: { projectCreated: { name: `${tenant} project ${round}`, organization: { name: `${tenant} org` }, tenant: { name } } },
        })),
      );
      expect(mine.orders.results).toEqual(
        [1, 2].map((round) => ({
          data: {
            orderPlaced: { number: round, totalCents: 250 * round, lines: [{ quantity: round, product: { name: `${tenant} widget` } }] },
          },
        })),
      );
      // Task statuses change, so a lookup reads the task as it is now; the title and order are what must hold.
      expect(mine.tasks.results.map((result) => result.data.taskStatusChanged.title)).toEqual([
        `${tenant} task 1`,
        `${tenant} task 1`,
        `${tenant} task 2`,
        `${tenant} task 2`,
      ]);
      const other = tenant === 'avocado' ? 'mango' : 'avocado';
      expect(JSON.stringify(mine)).not.toContain(other);
    }
    expect(stack.gatewayEventSubscriptions.filter((tenant) => tenant === 'avocado')).toHaveLength(1);
    expect(stack.gatewayEventSubscriptions.filter((tenant) => tenant === 'mango')).toHaveLength(1);
    for (const socket of sockets) await socket.close();
    await until(() => stack.openSubscriptions() === 0, 'every subscription is closed');
  }, 120_000);

  it('ends a subscription with UNAUTHENTICATED when its token expires, then closes the socket with 4401', async () => {
    const socket = subscriber(stack.gatewayUrl, await stack.auth.token('avocado', [], { ttlSeconds: 3 }));
    const subscription = socket.subscribe(PROJECTS);
    const ended = await subscription.ended;
    expect(ended.errors?.map((error) => error.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    expect((await socket.closed).code).toBe(4401);
  }, 30_000);

  it('closes the socket with 4401 before any subscription for no token or a bad one, 4403 for an unknown tenant', async () => {
    const before = stack.openSubscriptions();
    const expired = await stack.auth.token('avocado', [], { ttlSeconds: -60 });
    for (const token of [undefined, 'garbage', expired, `${(await stack.auth.token('avocado')).slice(0, -4)}AAAA`]) {
      const socket = subscriber(stack.gatewayUrl, token);
      const subscription = socket.subscribe(PROJECTS);
      expect((await socket.closed).code).toBe(4401);
      expect(subscription.results).toEqual([]);
    }
    const unknown = subscriber(stack.gatewayUrl, await stack.auth.token('kiwi'));
    expect((await unknown.closed).code).toBe(4403);
    expect(stack.openSubscriptions()).toBe(before);
  }, 30_000);

  it('refuses subscriptions over the per-connection and per-tenant caps with TOO_MANY_REQUESTS, and frees them when closed', async () => {
    const gateway = await stack.startGateway({
      subscriptionLimits: { perConnection: { FREE: 1, PRO: 2, ENTERPRISE: 2 }, perTenant: { FREE: 1, PRO: 3, ENTERPRISE: 3 } },
    });
    const token = await stack.auth.token('avocado');
    const first = subscriber(gateway.url, token);
    const [a, b, c] = [first.subscribe(PROJECTS), first.subscribe(ORDERS), first.subscribe(TASKS)];
    expect((await c.ended).errors?.map((error) => error.extensions?.code)).toEqual(['TOO_MANY_REQUESTS']);
    await until(() => gateway.openSubscriptions('avocado') === 2, 'two are open');
    const second = subscriber(gateway.url, token);
    const d = second.subscribe(PROJECTS);
    await until(() => gateway.openSubscriptions('avocado') === 3, 'three are open');
    const e = second.subscribe(ORDERS);
    expect((await e.ended).errors?.[0]?.message).toContain('for this tenant');
    // Another tenant has caps of its own.
    const mango = subscriber(gateway.url, await stack.auth.token('mango'));
    mango.subscribe(PROJECTS);
    await until(() => gateway.openSubscriptions('mango') === 1, "mango's is open");
    await first.close();
    await until(() => gateway.openSubscriptions('avocado') === 1, "the first socket's are freed");
    second.subscribe(ORDERS);
    await until(() => gateway.openSubscriptions('avocado') === 2, 'a freed place is taken again');
    expect([a.results, b.results, d.results]).toEqual([[], [], []]);
    await second.close();
    await mango.close();
    await gateway.stop();
  }, 60_000);

  it('drops a subscriber that stops reading, without holding its answers, while one that reads gets every event', async () => {
    const gateway = await stack.startGateway({
      subscriptionLimits: { maxQueuedPerSubscription: 10, maxBufferedBytes: 1_048_576 },
    });
    const organization = await mutate('avocado', 'mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { id } }', {
      i: { name: 'Slow org' },
    });
    // The hundred project.created events of the bulk creation are published before anyone subscribes.
    const relayed: string[] = [];
    const probe = await stack.events.transport.subscribe({ tenantId: 'avocado' }, (event) => relayed.push(event.type));
    const names = Array.from({ length: 100 }, (_, i) => `${'slow reader project '.repeat(9)}${i}`);
    const [project] = (await mutate('avocado', 'mutation($i: BulkCreateProjectsInput!) { bulkCreateProjects(input: $i) { id } }', {
      i: { organizationId: organization.id, names },
    })) as unknown as { id: string }[];
    await until(() => relayed.filter((type) => type === 'project.created').length >= 100, 'the bulk creation is relayed');
    await probe.close();
    // About 100 kB per event: five copies of the organization's hundred project names.
    const BIG = `subscription { projectCreated { organization { ${[1, 2, 3, 4, 5].map((n) => `p${n}: projects(first: 100) { name }`).join(' ')} } } }`;
    const token = await stack.auth.token('avocado');
    const reader = subscriber(gateway.url, token);
    const reading = reader.subscribe(BIG);
    const slow = await stalledSubscriber(gateway.url, token, BIG);
    await until(() => gateway.openSubscriptions('avocado') === 2, 'both are subscribed');
    // Five at a time, each five read by the reader before the next: the reader never has more
    // than five answers waiting, the stalled one more and more once the kernel's buffers are full.
    let published = 0;
    while (gateway.openSubscriptions('avocado') === 2) {
      if (published >= 400) throw new Error('the stalled subscriber was never dropped');
      for (let i = 0; i < 5; i++) await stack.events.transport.publish([eventOf('avocado', 'project.created', project!.id)]);
      published += 5;
      await until(() => reading.results.length === published, 'the reader has every event', 60_000);
    }
    expect(reading.results.every((result) => result.data.projectCreated.organization.p1.length === 100)).toBe(true);
    slow.destroy();
    await reader.close();
    await gateway.stop();
  }, 120_000);

  it('on stop, delivers what is in flight and closes each socket with 1001', async () => {
    const gateway = await stack.startGateway();
    const socket = subscriber(gateway.url, await stack.auth.token('mango'));
    const subscription = socket.subscribe('subscription { orderPlaced { number } }');
    await until(() => gateway.openSubscriptions('mango') === 1, 'subscribed');
    const product = await mutate('mango', 'mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }', {
      i: { sku: 'stop-sku', name: 'Stop widget', priceCents: 100, stock: 10 },
    });
    await mutate('mango', 'mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { id } }', {
      i: { lines: [{ productId: product.id, quantity: 1 }] },
    });
    await until(() => subscription.results.length === 1, 'the event is delivered');
    await gateway.stop();
    expect((await socket.closed).code).toBe(1001);
  }, 60_000);
});

/**
 * A graphql-transport-ws client on a bare TCP socket that subscribes and then stops reading, so
 * nothing it is sent leaves the kernel's buffers (a WebSocket library would resume the socket).
 */
async function stalledSubscriber(httpUrl: string, token: string, query: string) {
  const url = new URL(httpUrl);
  const socket = connect(Number(url.port), url.hostname);
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.on('error', () => {});
  socket.write(
    `GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n`,
  );
  socket.write(frame({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
  let received = '';
  await new Promise<void>((resolve) => {
    const onData = (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (!received.includes('connection_ack')) return;
      socket.off('data', onData);
      resolve();
    };
    socket.on('data', onData);
  });
  socket.write(frame({ id: '1', type: 'subscribe', payload: { query } }));
  socket.pause();
  return { destroy: () => socket.destroy() };
}

/** One masked text frame, as a client must send it. */
function frame(message: unknown): Buffer {
  const payload = Buffer.from(JSON.stringify(message));
  const mask = randomBytes(4);
  const length =
    payload.length < 126 ? Buffer.from([0x80 | payload.length]) : Buffer.from([0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
  return Buffer.concat([Buffer.from([0x81]), length, mask, masked]);
}
