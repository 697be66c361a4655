// `pnpm bench --subscriptions`: many open subscriptions over several tenants, events at a fixed
// rate, the delay from publish to client at each subscriber, and the gateway's memory.
import { randomUUID } from 'node:crypto';
import { createNatsTransport, type DomainEvent } from '@tenantgraph/events';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { memoryOf } from './load.ts';

type SubscriptionBenchOptions = {
  gatewayUrl: string;
  natsUrl: string;
  tenants: readonly string[];
  token(tenant: string): Promise<string>;
  gatewayPid: number;
  subscriptions: number;
  /** Events per second over all tenants. */
  rate: number;
  seconds: number;
  log(line: string): void;
};

const SUBSCRIPTION = 'subscription { orderPlaced { number totalCents tenant { id } } }';
/** Subscriptions per socket, as a browser tab would multiplex them. */
const PER_SOCKET = 10;

/**
 * Opens `subscriptions` subscriptions spread evenly over `tenants`, publishes `order.placed` events
 * (of a real order of each tenant) round-robin over the tenants at `rate` per second, and measures
 * each delivery: the delay since its publish (a tenant's events arrive in order, so its k-th
 * delivery is its k-th event), and that the order it carries is of the subscriber's tenant.
 */
export async function subscriptionBench(options: SubscriptionBenchOptions) {
  const { tenants, log } = options;
  const orderOf = new Map<string, string>();
  for (const tenant of tenants) {
    const response = await fetch(options.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await options.token(tenant)}` },
      body: JSON.stringify({ query: '{ tenant { orders(first: 1) { nodes { id } } } }' }),
    });
    const id = ((await response.json()) as any).data?.tenant?.orders?.nodes?.[0]?.id;
    if (!id) throw new Error(`tenant ${tenant} has no order to publish events of`);
    orderOf.set(tenant, id);
  }
  const published = new Map<string, number[]>(tenants.map((tenant) => [tenant, []]));
  const latencies: number[] = [];
  let wrongTenant = 0;
  let errors = 0;
  const errorCodes = new Map<string, number>();
  const countError = (error: any) => {
    errors++;
    const code = String(error?.extensions?.code ?? error?.code ?? error?.message ?? 'unknown');
    errorCodes.set(code, (errorCodes.get(code) ?? 0) + 1);
  };
  const clients: ReturnType<typeof createClient>[] = [];
  const url = options.gatewayUrl.replace(/^http/, 'ws');
  for (let i = 0; i < options.subscriptions; i += PER_SOCKET) {
    const tenant = tenants[Math.floor(i / PER_SOCKET) % tenants.length]!;
    const client = createClient({
      url,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${await options.token(tenant)}` },
    });
    clients.push(client);
    for (let j = 0; j < PER_SOCKET && i + j < options.subscriptions; j++) {
      let received = 0;
      client.subscribe(
        { query: SUBSCRIPTION },
        {
          next: (result) => {
            const sentAt = published.get(tenant)![received++];
            if (sentAt !== undefined) latencies.push(performance.now() - sentAt);
            if (result.errors) countError(result.errors[0]);
            else if ((result.data as any)?.orderPlaced?.tenant?.id !== tenant) wrongTenant++;
          },
          error: (error) => countError(Array.isArray(error) ? error[0] : error),
          complete: () => {},
        },
      );
    }
  }
  // Subscriptions are open once the gateway answers a first event; give them a moment to settle.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const rssBefore = (await memoryOf(options.gatewayPid)).rss;
  const transport = await createNatsTransport({ url: options.natsUrl, name: 'bench' });
  const total = options.rate * options.seconds;
  log(`${options.subscriptions} subscriptions over ${tenants.length} tenants; publishing ${total} events at ${options.rate}/s`);
  const start = performance.now();
  for (let n = 0; n < total; n++) {
    const wait = start + (n * 1000) / options.rate - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const tenant = tenants[n % tenants.length]!;
    const event: DomainEvent = {
      id: randomUUID(),
      tenantId: tenant,
      type: 'order.placed',
      entityId: orderOf.get(tenant)!,
      payload: {},
      occurredAt: new Date().toISOString(),
      source: 'bench',
    };
    published.get(tenant)!.push(performance.now());
    await transport.publish([event]);
  }
  const expected = (total / tenants.length) * options.subscriptions;
  const deadline = Date.now() + 30_000;
  while (latencies.length + errors < expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
  const memory = await memoryOf(options.gatewayPid);
  await transport.close();
  await Promise.all(clients.map((client) => client.dispose()));
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  const mib = (value: number) => value.toFixed(0);
  const text = [
    `${options.subscriptions} subscriptions (\`${SUBSCRIPTION}\`, ${PER_SOCKET} per WebSocket, each socket with its own token)`,
    `spread over ${tenants.length} tenants; \`order.placed\` events published on NATS JetStream round-robin over the tenants at`,
    `${options.rate}/s for ${options.seconds} s. Each event is resolved once per tenant and selection through the federated path`,
    "(order subgraph, then tenant), and delivered to each of its tenant's subscribers; latency is from publish to the",
    'client, and every delivery is checked for its tenant.',
    '',
    '| subscriptions | tenants | events/s | deliveries (expected) | p50 ms | p99 ms | wrong tenant | errors | gateway RSS before → after (peak) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    `| ${options.subscriptions} | ${tenants.length} | ${options.rate} | ${latencies.length} (${expected}) | ${at(0.5).toFixed(1)} | ${at(0.99).toFixed(1)} | ${wrongTenant} | ${errors} | ${mib(rssBefore)} → ${mib(memory.rss)} MiB (${mib(memory.peak)}) |`,
  ].join('\n');
  if (errorCodes.size > 0) log(`errors by code: ${[...errorCodes].map(([code, n]) => `${code} ${n}`).join(', ')}`);
  return { text, ok: wrongTenant === 0 && latencies.length === expected };
}
