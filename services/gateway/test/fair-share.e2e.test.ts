import { createServer, request } from 'node:http';
import { createLogger } from '@tenantgraph/core';
import { createDatabaseRouter } from '@tenantgraph/database';
import { createProductServer } from '@tenantgraph/product';
import { type ConcurrencyLimits, createMetrics, listen, tenantAdmission } from '@tenantgraph/server-kit';
import { codes, type GraphQLResponse, graphql, staticRegistry } from '@tenantgraph/testkit';
import { describe, expect } from 'vitest';
import { createEntityCache } from '../src/server.ts';
import { stackTest } from './stack.ts';

const it = stackTest;
const QUERY = '{ tenant { id products(first: 1) { totalCount } } }';

/**
 * An HTTP hop to `target` that holds every request until `open()` (or `next()` for the oldest
 * one), remembering which tenant each came for: the gateway's requests stay in flight as long
 * as the test wants.
 */
async function gateHop(target: string) {
  const arrivals: string[] = [];
  const held: (() => void)[] = [];
  let opened = false;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      arrivals.push(String(req.headers['x-tenant-id']));
      const forward = () => {
        const upstream = request(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        upstream.on('error', () => res.destroy());
        upstream.end(Buffer.concat(chunks));
      };
      if (opened) forward();
      else held.push(forward);
    });
  });
  const port = await listen(server, 0, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    arrivals,
    held: () => held.length,
    next: () => held.shift()?.(),
    open() {
      opened = true;
      for (const forward of held.splice(0)) forward();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Polls `condition` every 10 ms, failing after 20 s: the machine is shared, nothing is timed. */
async function until(condition: () => boolean, what: string) {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const limits = (overrides: Partial<ConcurrencyLimits>): ConcurrencyLimits => ({
  maxInFlight: 64,
  perTenant: { FREE: 1, PRO: 3, ENTERPRISE: 3 },
  maxWaitMs: 60_000,
  ...overrides,
});

describe('one tenant cannot take the gateway from another', () => {
  it('refuses a flooding tenant past its concurrency with 429 and Retry-After, and serves the other tenant', async ({ stack }) => {
    const gate = await gateHop(stack.subgraphUrls.product);
    const gateway = await stack.startGateway({
      subgraphUrls: { product: gate.url },
      admission: tenantAdmission(limits({}), stack.registry()),
    });
    try {
      const avocado = await stack.auth.token('avocado');
      const mango = await stack.auth.token('mango');
      // Avocado (PRO, 3 at once) sends 12 at once; the three admitted stay in flight at the gate.
      const flood = Array.from({ length: 12 }, () => graphql(gateway.url, { token: avocado, query: QUERY }));
      await until(() => gate.held() === 3, 'three of avocado at the product subgraph');
      const others = Array.from({ length: 3 }, () => graphql(gateway.url, { token: mango, query: QUERY }));
      await until(() => gate.held() === 6, "mango's three at the product subgraph");
      gate.open();
      const [flooded, served] = await Promise.all([Promise.all(flood), Promise.all(others)]);

      const refused = flooded.filter((response) => response.status === 429);
      expect(refused).toHaveLength(9);
      for (const response of refused) {
        expect(codes(response)).toEqual(['TOO_MANY_REQUESTS']);
        expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      }
      const answered = flooded.filter((response) => response.status === 200);
      expect(answered.map((response) => response.body.data?.tenant.id)).toEqual(['avocado', 'avocado', 'avocado']);
      for (const response of served) {
        expect(response.status).toBe(200);
        expect(response.body.errors).toBeUndefined();
        expect(response.body.data.tenant.id).toBe('mango');
      }
      // The slots came back: avocado is served again.
      const after = await graphql(gateway.url, { token: avocado, query: QUERY });
      expect(after.body.data.tenant.id).toBe('avocado');
    } finally {
      await gateway.stop();
      await gate.close();
    }
  });

  it('admits waiting tenants round-robin when the gateway is saturated', async ({ stack }) => {
    const gate = await gateHop(stack.subgraphUrls.product);
    const admission = tenantAdmission(limits({ maxInFlight: 1, perTenant: { FREE: 1, PRO: 10, ENTERPRISE: 10 } }), stack.registry());
    const gateway = await stack.startGateway({ subgraphUrls: { product: gate.url }, admission });
    try {
      const avocado = await stack.auth.token('avocado');
      const mango = await stack.auth.token('mango');
      const send = (token: string) => graphql(gateway.url, { token, query: QUERY });
      // Avocado sends four (one runs, three wait), then mango two: first come would serve avocado's four first.
      const answers: Promise<GraphQLResponse>[] = [send(avocado)];
      await until(() => gate.held() === 1, 'the first request at the product subgraph');
      for (let i = 0; i < 3; i++) answers.push(send(avocado));
      await until(() => admission.scheduler.stats().waiting === 3, "avocado's three waiting");
      for (let i = 0; i < 2; i++) answers.push(send(mango));
      await until(() => admission.scheduler.stats().waiting === 5, "mango's two waiting");
      // One at a time through the gate: each finished request lets the next tenant in turn in.
      for (let served = 1; served < 6; served++) {
        gate.next();
        await until(() => gate.arrivals.length === served + 1, `request ${served + 1} at the product subgraph`);
      }
      gate.open();
      expect(gate.arrivals).toEqual(['avocado', 'avocado', 'mango', 'avocado', 'mango', 'avocado']);
      for (const response of await Promise.all(answers)) expect(response.body.data.tenant.id).toMatch(/^(avocado|mango)$/);
    } finally {
      await gateway.stop();
      await gate.close();
    }
  });

  it('weights admission by estimated cost: an expensive operation takes more of its tenant share, not of another tenant', async ({
    stack,
  }) => {
    const gate = await gateHop(stack.subgraphUrls.product);
    // One slot per unit of cost: QUERY (cost above 3) takes all three of avocado's slots.
    const gateway = await stack.startGateway({
      subgraphUrls: { product: gate.url },
      admission: tenantAdmission(limits({}), stack.registry()),
      costPerSlot: 1,
    });
    try {
      const avocado = await stack.auth.token('avocado');
      const mango = await stack.auth.token('mango');
      const expensive = graphql(gateway.url, { token: avocado, query: QUERY });
      await until(() => gate.held() === 1, "avocado's expensive request at the product subgraph");
      // Counted by requests avocado would have two slots left; counted by cost it has none.
      const second = await graphql(gateway.url, { token: avocado, query: QUERY });
      expect(second.status).toBe(429);
      expect(codes(second)).toEqual(['TOO_MANY_REQUESTS']);
      expect(second.headers.get('retry-after')).toBe('1');
      const other = graphql(gateway.url, { token: mango, query: QUERY });
      await until(() => gate.held() === 2, "mango's request at the product subgraph");
      gate.open();
      const [first, served] = await Promise.all([expensive, other]);
      expect(first.body.data.tenant.id).toBe('avocado');
      expect(served.body.errors).toBeUndefined();
      expect(served.body.data.tenant.id).toBe('mango');
      // Answered, the request gave its slots back.
      expect((await graphql(gateway.url, { token: avocado, query: QUERY })).body.data.tenant.id).toBe('avocado');
    } finally {
      await gateway.stop();
      await gate.close();
    }
  });

  it("spends each operation's estimated cost from its tenant's cost per second: past it 429 before any subgraph, the other tenant served", async ({
    stack,
  }) => {
    const gate = await gateHop(stack.subgraphUrls.product);
    gate.open();
    // A bucket of 20 units, refilled at one unit every 1 000 s: a few of QUERY's cost, then none.
    const rate = { perSecond: 0.001, burst: 20 };
    const gateway = await stack.startGateway({ subgraphUrls: { product: gate.url }, costRates: { PRO: rate, ENTERPRISE: rate } });
    try {
      const avocado = await stack.auth.token('avocado');
      let served = 0;
      let refused: GraphQLResponse | undefined;
      for (let i = 0; i < 50 && !refused; i++) {
        const answer = await graphql(gateway.url, { token: avocado, query: QUERY });
        if (answer.status === 429) refused = answer;
        else {
          expect(answer.body.data.tenant.id).toBe('avocado');
          served++;
        }
      }
      // A count of requests would never refuse here (PRO allows 200 at once): the cost did.
      expect(served).toBeGreaterThan(0);
      expect(refused && codes(refused)).toEqual(['TOO_MANY_REQUESTS']);
      expect(Number(refused?.headers.get('retry-after'))).toBeGreaterThan(60);
      expect(gate.arrivals.filter((tenant) => tenant === 'avocado')).toHaveLength(served);
      // Another tenant's bucket is its own.
      const other = await graphql(gateway.url, { token: await stack.auth.token('mango'), query: QUERY });
      expect(other.body.errors).toBeUndefined();
      expect(other.body.data.tenant.id).toBe('mango');
    } finally {
      await gateway.stop();
      await gate.close();
    }
  });

  it('gives the cost back of an answer that needed no subgraph: answers from the entity cache spend none of it', async ({ stack }) => {
    // Cost 52 (first: 50); a bucket of 110 refilled at one unit every 1 000 s holds two such operations, not three.
    const query = (first: number) => `{ tenant { id products(first: ${first}) { totalCount nodes { name } } } }`;
    const rate = { perSecond: 0.001, burst: 110 };
    const entityCache = createEntityCache({ maxBytes: 2 ** 20, tenantShare: 1, ttlMs: 60_000 });
    const gateway = await stack.startGateway({ entityCache, costRates: { PRO: rate, ENTERPRISE: rate } });
    try {
      const avocado = await stack.auth.token('avocado');
      // The first is fetched and spends 52; the next ten are answered from the cache, each given its cost back.
      for (let i = 0; i < 11; i++) {
        const answer = await graphql(gateway.url, { token: avocado, query: query(50) });
        expect(answer.body.errors, `request ${i + 1}`).toBeUndefined();
        expect(answer.body.data.tenant.id).toBe('avocado');
      }
      // Operations that reach the subgraph keep what they spent: one more fits (51), the next (50) does not.
      expect((await graphql(gateway.url, { token: avocado, query: query(49) })).body.errors).toBeUndefined();
      const refused = await graphql(gateway.url, { token: avocado, query: query(48) });
      expect(refused.status).toBe(429);
      expect(codes(refused)).toEqual(['TOO_MANY_REQUESTS']);
    } finally {
      await gateway.stop();
    }
  });

  it('gives the slots back of requests refused beside admission (a missing scope), so they never add up', async ({ stack }) => {
    const gateway = await stack.startGateway({ admission: tenantAdmission(limits({}), stack.registry()) });
    try {
      const unscoped = await stack.auth.token('avocado', []);
      // Access control and admission see the operation at the same time; the refusal must not keep the turn.
      for (let i = 0; i < 6; i++) {
        const refused = await graphql(gateway.url, { token: unscoped, query: 'mutation { updateTenant(input: { name: "x" }) { name } }' });
        expect(codes(refused)).toEqual(['FORBIDDEN']);
      }
      const served = await graphql(gateway.url, { token: await stack.auth.token('avocado'), query: QUERY });
      expect(served.body.errors).toBeUndefined();
      expect(served.body.data.tenant.id).toBe('avocado');
    } finally {
      await gateway.stop();
    }
  });

  it('holds a tenant to its plan in a subgraph too, which the gateway passes on as TOO_MANY_REQUESTS', async ({ stack }) => {
    const admission = tenantAdmission(limits({}), staticRegistry());
    const server = createProductServer({
      databases: createDatabaseRouter<any>({ sharedUrl: stack.databases.product.sharedUrl, registry: staticRegistry() }),
      verifier: stack.auth.verifier,
      logger: createLogger({ service: 'product' }, 'silent'),
      metrics: createMetrics('product'),
      ready: async () => {},
      admission,
    });
    const url = `http://127.0.0.1:${await server.start(0, '127.0.0.1')}/graphql`;
    const query = '{ _entities(representations: [{ __typename: "Tenant", id: "avocado" }]) { ... on Tenant { products { totalCount } } } }';
    // Avocado's three slots are taken (as by three long requests in flight).
    const slots = await Promise.all([1, 2, 3].map(() => admission.admit('avocado')));
    try {
      const refused = await graphql(url, { token: await stack.auth.token('avocado'), query });
      expect(refused.status).toBe(429);
      expect(codes(refused)).toEqual(['TOO_MANY_REQUESTS']);
      expect(refused.headers.get('retry-after')).toBe('1');
      // Through a gateway: the subgraph's refusal reaches the client as TOO_MANY_REQUESTS, not as an internal error.
      const gateway = await stack.startGateway({ subgraphUrls: { product: url } });
      const viaGateway = await graphql(gateway.url, { token: await stack.auth.token('avocado'), query: QUERY });
      await gateway.stop();
      expect(codes(viaGateway)).toEqual(['TOO_MANY_REQUESTS']);
      const other = await graphql(url, {
        token: await stack.auth.token('mango'),
        query: query.replace('avocado', 'mango'),
      });
      expect(other.status).toBe(200);
      expect(other.body.errors).toBeUndefined();
      for (const release of slots) release();
      const again = await graphql(url, { token: await stack.auth.token('avocado'), query });
      expect(again.body.data._entities[0].products.totalCount).toBeTypeOf('number');
    } finally {
      for (const release of slots) release();
      await server.stop();
    }
  });
});
