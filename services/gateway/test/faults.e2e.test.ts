import { createServer, request } from 'node:http';
import { createServer as createTcpServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { createLogger } from '@tenantgraph/core';
import { createDatabaseRouter } from '@tenantgraph/database';
import { createProductServer } from '@tenantgraph/product';
import { createMetrics, listen } from '@tenantgraph/server-kit';
import { codes, freePort, graphql, staticRegistry } from '@tenantgraph/testkit';
import { describe, expect } from 'vitest';
import { stackTest } from './stack.ts';

const it = stackTest;

/** An HTTP hop to `target` that waits `delayMs` before forwarding, counting what it receives. */
async function slowHop(target: string, delayMs: number, port = 0) {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      bodies.push(body.toString('utf8'));
      setTimeout(() => {
        const upstream = request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        upstream.on('error', () => res.destroy());
        upstream.end(body);
      }, delayMs);
    });
  });
  const bound = await listen(server, port, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${bound}`,
    bodies,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A TCP proxy to PostgreSQL that can be cut (every connection refused and dropped) and restored. */
async function cuttableProxy(targetUrl: string) {
  const target = new URL(targetUrl);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const port = await freePort();
  const up = () =>
    new Promise<void>((resolve) => {
      server = createTcpServer((client) => {
        const upstream = tcpConnect(Number(target.port || 5432), target.hostname);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => {});
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, '127.0.0.1', resolve);
    });
  const down = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server?.close(() => resolve());
    });
  await up();
  const url = new URL(targetUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return { url: url.toString(), up, down };
}

const withinMs = async <T>(ms: number, work: () => Promise<T>) => {
  const start = performance.now();
  const result = await work();
  const elapsed = performance.now() - start;
  expect(elapsed).toBeLessThan(ms);
  return { result, elapsed };
};

/** What must never reach a client: addresses, ports, service names, system errors, stack frames. */
const SECRET = /127\.0\.0\.1|localhost|:\d{4,5}|ECONNREFUSED|ECONNRESET|timed out|product|subgraph|serviceName|https?:|stack|\.ts:/i;
/** The errors as a client reads them, without `path` (which names the client's own fields). */
const visible = (response: { body: { errors?: { message: string; extensions?: unknown }[] } }) =>
  JSON.stringify(response.body.errors?.map(({ message, extensions }) => ({ message, extensions })));

describe('a failing subgraph degrades only what depends on it', () => {
  it('a slow subgraph times out: partial data and one SERVICE_UNAVAILABLE, answered within the timeout', async ({ stack }) => {
    const token = await stack.auth.token('avocado', ['products:write']);
    const hop = await slowHop(stack.subgraphUrls.product.replace('/graphql', ''), 2_000);
    const gateway = await stack.startGateway({ subgraphTimeoutMs: 300, subgraphUrls: { product: `${hop.url}/graphql` } });
    try {
      const { result } = await withinMs(1_500, () =>
        graphql(gateway.url, {
          token,
          query: '{ tenant { id name product(id: "avocado:00000000-0000-4000-8000-000000000000") { name } } }',
        }),
      );
      expect(result.status).toBe(200);
      expect(result.body.data).toEqual({ tenant: { id: 'avocado', name: 'Avocado Inc', product: null } });
      expect(result.body.errors).toHaveLength(1);
      expect(codes(result)).toEqual(['SERVICE_UNAVAILABLE']);
      expect(visible(result)).not.toMatch(SECRET);
    } finally {
      await gateway.stop();
      await hop.close();
    }
  });

  it('a mutation that timed out is not retried: the subgraph saw it exactly once', async ({ stack }) => {
    const token = await stack.auth.token('avocado', ['products:write']);
    const hop = await slowHop(stack.subgraphUrls.product.replace('/graphql', ''), 800);
    const gateway = await stack.startGateway({ subgraphTimeoutMs: 200, subgraphUrls: { product: `${hop.url}/graphql` } });
    try {
      const response = await graphql(gateway.url, {
        token,
        query: 'mutation { createProduct(input: { sku: "once", name: "Once", priceCents: 1 }) { id } }',
      });
      expect(response.body.data).toBeNull();
      expect(codes(response)).toEqual(['SERVICE_UNAVAILABLE']);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(hop.bodies.filter((body) => body.includes('createProduct'))).toHaveLength(1);
    } finally {
      await gateway.stop();
      await hop.close();
    }
  });

  it('a killed subgraph: partial data or a clean error, never a hang, and nothing of its address', async ({ stack }) => {
    const token = await stack.auth.token('avocado');
    const dead = `http://127.0.0.1:${await freePort()}/graphql`;
    const gateway = await stack.startGateway({ subgraphUrls: { product: dead } });
    try {
      const { result: partial } = await withinMs(2_000, () =>
        graphql(gateway.url, { token, query: '{ tenant { id product(id: "avocado:00000000-0000-4000-8000-000000000000") { name } } }' }),
      );
      expect(partial.body.data).toEqual({ tenant: { id: 'avocado', product: null } });
      expect(codes(partial)).toEqual(['SERVICE_UNAVAILABLE']);
      const { result: whole } = await withinMs(2_000, () =>
        graphql(gateway.url, { token, query: '{ tenant { id products { totalCount } } }' }),
      );
      expect(whole.body.data).toBeNull();
      expect(codes(whole)).toEqual(['SERVICE_UNAVAILABLE']);
      for (const response of [partial, whole]) {
        expect(visible(response)).not.toMatch(SECRET);
        expect(JSON.stringify(response.body)).not.toContain(dead);
      }
      // The other subgraphs keep serving.
      const projects = await graphql(gateway.url, { token, query: '{ tenant { projects { totalCount } } }' });
      expect(projects.body.errors).toBeUndefined();
    } finally {
      await gateway.stop();
    }
  });

  it('the gateway starts while a subgraph is down and serves it once it is up', async ({ stack }) => {
    const token = await stack.auth.token('avocado');
    const port = await freePort();
    const gateway = await stack.startGateway({ subgraphUrls: { product: `http://127.0.0.1:${port}/graphql` } });
    try {
      const before = await graphql(gateway.url, { token, query: '{ tenant { id products { totalCount } } }' });
      expect(codes(before)).toEqual(['SERVICE_UNAVAILABLE']);
      const hop = await slowHop(stack.subgraphUrls.product.replace('/graphql', ''), 0, port);
      try {
        const after = await graphql(gateway.url, { token, query: '{ tenant { id products { totalCount } } }' });
        expect(after.body.errors).toBeUndefined();
        expect(after.body.data.tenant.id).toBe('avocado');
      } finally {
        await hop.close();
      }
    } finally {
      await gateway.stop();
    }
  });

  it('SIGTERM drains: a request in flight when the gateway stops still completes', async ({ stack }) => {
    const token = await stack.auth.token('avocado');
    const hop = await slowHop(stack.subgraphUrls.product.replace('/graphql', ''), 500);
    const gateway = await stack.startGateway({ subgraphUrls: { product: `${hop.url}/graphql` } });
    try {
      const inFlight = graphql(gateway.url, { token, query: '{ tenant { id products { totalCount } } }' });
      await new Promise((resolve) => setTimeout(resolve, 150));
      const stopped = gateway.stop();
      const response = await inFlight;
      expect(response.status).toBe(200);
      expect(response.body.errors).toBeUndefined();
      expect(response.body.data.tenant.id).toBe('avocado');
      await stopped;
      await expect(fetch(gateway.url, { method: 'POST' })).rejects.toThrow();
    } finally {
      await hop.close();
    }
  });
});

describe('a subgraph whose database is down', () => {
  it('fails fast with a clear, retryable error and recovers by itself', async ({ stack }) => {
    const token = await stack.auth.token('avocado');
    const proxy = await cuttableProxy(stack.databases.product.sharedUrl);
    const metrics = createMetrics('product');
    const router = createDatabaseRouter<any>({ sharedUrl: proxy.url, registry: staticRegistry(), acquireTimeoutMs: 1_000 });
    const server = createProductServer({
      databases: router,
      verifier: stack.auth.verifier,
      logger: createLogger({ service: 'product' }, 'silent'),
      metrics,
      ready: async () => {},
    });
    const url = `http://127.0.0.1:${await server.start(0, '127.0.0.1')}/graphql`;
    const query = '{ _entities(representations: [{ __typename: "Tenant", id: "avocado" }]) { ... on Tenant { products { totalCount } } } }';
    try {
      const healthy = await graphql(url, { token, query });
      expect(healthy.body.errors).toBeUndefined();

      await proxy.down();
      const { result: down } = await withinMs(3_000, () => graphql(url, { token, query }));
      expect(down.status).toBe(200);
      expect(codes(down)).toHaveLength(1);
      expect(['SERVICE_UNAVAILABLE', 'INTERNAL_SERVER_ERROR']).toContain(codes(down)[0]);
      expect(visible(down)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|select |password|:\d{4,5}/i);

      await proxy.up();
      const deadline = Date.now() + 5_000;
      let recovered = await graphql(url, { token, query });
      while (recovered.body.errors && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        recovered = await graphql(url, { token, query });
      }
      expect(recovered.body.errors).toBeUndefined();
    } finally {
      await server.stop();
      await proxy.down().catch(() => {});
    }
  });
});
