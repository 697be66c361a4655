import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApolloGateway } from '@apollo/gateway';
import type { Logger } from '@tenantgraph/core';
import { listen } from '@tenantgraph/server-kit';
import { codes, graphql, type LogLine, recordingLogger, until } from '@tenantgraph/testkit';
import type { GraphQLObjectType, GraphQLSchema } from 'graphql';
import { describe, expect, test } from 'vitest';
import { composeSubgraphs, readSubgraphSources } from '../../../supergraph/src/compose-lib.ts';
import { loadSupergraphConfig } from '../../../supergraph/src/supergraph-config.ts';
import { withAccessPolicy } from '../src/access-policy.ts';
import { createEntityCache } from '../src/entity-cache.ts';
import { supergraphFromFile, supergraphFromUrl } from '../src/supergraph.ts';
import { type Stack, startStack } from './stack.ts';

const CONFIG_FILE = fileURLToPath(new URL('../../../supergraph/supergraph.yaml', import.meta.url));
const COMMITTED = fileURLToPath(new URL('../../../supergraph/supergraph.graphql', import.meta.url));
const GARBAGE = 'this is not a supergraph {';

/** The load: the tenant and product subgraphs on every request, never the field being swapped. */
const LOAD_QUERY = '{ tenant { id name products(first: 5) { nodes { id name priceCents } } } }';
const STOCK_QUERY = '{ tenant { products(first: 5) { nodes { sku stock } } } }';

/**
 * The supergraph as it was before the product team exposed `Product.stock`: composed from the
 * committed subgraph SDL with that one field taken out of product's. The running product
 * subgraph still resolves `stock`, as it does between "subgraph deployed" and "supergraph
 * published", so swapping to the committed supergraph makes the new field answer.
 */
async function supergraphWithoutStock(): Promise<string> {
  const { sources, errors } = await readSubgraphSources(await loadSupergraphConfig(CONFIG_FILE));
  expect(errors).toEqual([]);
  const variant = sources.map((source) => {
    if (source.name !== 'product') return source;
    const sdl = source.sdl.replace(/(type Product [^{]*\{[^}]*?)\n\s*stock: Int!/, '$1');
    expect(sdl).not.toBe(source.sdl);
    return { ...source, sdl };
  });
  const outcome = composeSubgraphs(variant);
  if (!outcome.ok) throw new Error(`variant does not compose: ${outcome.errors.map((error) => error.message).join('; ')}`);
  expect(outcome.apiSchemaSdl).not.toMatch(/type Product [^{]*\{[^}]*\bstock:/);
  return outcome.supergraphSdl;
}

const count = (logger: { lines: LogLine[] }, message: string) => logger.lines.filter((line) => line.message === message).length;

/** Replaces the file the way a deploy should: write beside it, then rename over it. */
async function replaceFile(path: string, text: string) {
  await writeFile(`${path}.next`, text);
  await rename(`${path}.next`, path);
}

type LoadResult = { ok: number; failures: string[] };

/** `concurrency` loops of LOAD_QUERY for `durationMs`, over 127.0.0.1; every answer is checked. */
async function steadyLoad(url: string, token: string, durationMs: number, concurrency = 10): Promise<LoadResult> {
  const result: LoadResult = { ok: 0, failures: [] };
  const end = Date.now() + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        try {
          const response = await graphql(url, { token, query: LOAD_QUERY });
          if (response.status === 200 && !response.body.errors && response.body.data?.tenant?.id === 'avocado') result.ok++;
          else result.failures.push(`${response.status} ${JSON.stringify(response.body.errors ?? response.body.data)}`);
        } catch (error) {
          result.failures.push(String(error));
        }
      }
    }),
  );
  return result;
}

type ReloadFixtures = { stack: Stack; supergraphFile: string; reloads: Logger & { lines: LogLine[] }; token: string };

const it = test.extend<ReloadFixtures>({
  reloads: [
    // biome-ignore lint/correctness/noEmptyPattern: vitest reads the fixture's dependencies from this pattern
    async ({}, use) => use(recordingLogger()),
    { scope: 'file' },
  ],
  supergraphFile: [
    // biome-ignore lint/correctness/noEmptyPattern: as above
    async ({}, use) => {
      const dir = await mkdtemp(join(tmpdir(), 'tenantgraph-supergraph-'));
      const file = join(dir, 'supergraph.graphql');
      await writeFile(file, await supergraphWithoutStock());
      await use(file);
      await rm(dir, { recursive: true, force: true });
    },
    { scope: 'file' },
  ],
  stack: [
    async ({ supergraphFile, reloads }, use) => {
      // The load below is far above a PRO tenant's rate limit; this test is about reloads, not limits.
      const unlimited = { perSecond: 100_000, burst: 100_000 };
      const stack = await startStack({
        supergraph: supergraphFromFile(supergraphFile, reloads, 100),
        planLimits: { FREE: unlimited, PRO: unlimited, ENTERPRISE: unlimited },
      });
      await use(stack);
      await stack.stop();
    },
    { scope: 'file' },
  ],
  token: [
    async ({ stack }, use) => {
      const token = await stack.auth.token('avocado', ['products:write']);
      const created = await graphql(stack.gatewayUrl, {
        token,
        query: 'mutation { createProduct(input: { sku: "reload-1", name: "Reloaded", priceCents: 990, stock: 7 }) { id } }',
      });
      expect(created.body.errors).toBeUndefined();
      await use(token);
    },
    { scope: 'file' },
  ],
});

// The tests run in order and share one gateway: each starts from the supergraph the one before left.
describe('hot reload of the supergraph file', () => {
  it('starts on the supergraph without Product.stock, which is refused as unknown', async ({ stack, token }) => {
    const response = await graphql(stack.gatewayUrl, { token, query: STOCK_QUERY });
    expect(response.status).toBe(400);
    expect(codes(response)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  });

  it('serves every request while the file is swapped, and the new field answers after the swap', async ({
    stack,
    token,
    supergraphFile,
    reloads,
  }) => {
    const load = steadyLoad(stack.gatewayUrl, token, 2_500);
    await new Promise((resolve) => setTimeout(resolve, 700));
    await replaceFile(supergraphFile, await readFile(COMMITTED, 'utf8'));
    await until('the gateway reloads', () => count(reloads, 'supergraph reloaded') === 1);
    const after = await graphql(stack.gatewayUrl, { token, query: STOCK_QUERY });
    const { ok, failures } = await load;

    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(100);
    expect(after.body.errors).toBeUndefined();
    expect(after.body.data.tenant.products.nodes).toEqual([{ sku: 'reload-1', stock: 7 }]);
  });

  it('refuses an invalid supergraph and keeps serving the old one', async ({ stack, token, supergraphFile, reloads }) => {
    const load = steadyLoad(stack.gatewayUrl, token, 1_500);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await replaceFile(supergraphFile, GARBAGE);
    await until('the gateway refuses it', () => count(reloads, 'new supergraph refused; keeping the current one') === 1);
    const after = await graphql(stack.gatewayUrl, { token, query: STOCK_QUERY });
    const { ok, failures } = await load;

    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(50);
    expect(count(reloads, 'supergraph reloaded')).toBe(1);
    const refused = reloads.lines.find((line) => line.message.startsWith('new supergraph refused'));
    expect(refused?.level).toBe('error');
    expect(after.body.errors).toBeUndefined();
    expect(after.body.data.tenant.products.nodes).toEqual([{ sku: 'reload-1', stock: 7 }]);
  });

  it('drops a field when the new supergraph removes it, while other queries keep succeeding', async ({
    stack,
    token,
    supergraphFile,
    reloads,
  }) => {
    const load = steadyLoad(stack.gatewayUrl, token, 1_500);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await replaceFile(supergraphFile, await supergraphWithoutStock());
    await until('the gateway reloads again', () => count(reloads, 'supergraph reloaded') === 2);
    const after = await graphql(stack.gatewayUrl, { token, query: STOCK_QUERY });
    const { ok, failures } = await load;

    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(50);
    expect(after.status).toBe(400);
    expect(codes(after)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  });

  it('never answers from a whole answer kept under another supergraph: a field taken out is refused, not served from the entity cache', async ({
    stack,
    token,
    supergraphFile,
    reloads,
  }) => {
    await replaceFile(supergraphFile, await readFile(COMMITTED, 'utf8'));
    await until('the gateway reloads a third time', () => count(reloads, 'supergraph reloaded') === 3);
    const cache = createEntityCache({ maxBytes: 16 * 2 ** 20, tenantShare: 0.5, ttlMs: 60_000 });
    const own = recordingLogger();
    const gateway = await stack.startGateway({ entityCache: cache, supergraph: supergraphFromFile(supergraphFile, own, 100) });
    const first = await graphql(gateway.url, { token, query: STOCK_QUERY });
    expect(first.body.data.tenant.products.nodes).toEqual([{ sku: 'reload-1', stock: 7 }]);
    const { hits } = cache.stats('avocado');
    expect((await graphql(gateway.url, { token, query: STOCK_QUERY })).body).toEqual(first.body);
    expect(cache.stats('avocado').hits).toBe(hits + 1); // kept whole

    await replaceFile(supergraphFile, await supergraphWithoutStock());
    await until('the cached gateway reloads', () => count(own, 'supergraph reloaded') === 1);
    const after = await graphql(gateway.url, { token, query: STOCK_QUERY });
    expect(after.status).toBe(400);
    expect(codes(after)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    await gateway.stop();
  });
});

/** A loopback artifact store: serves `sdl` with a strong ETag and answers 304 on a match. */
async function artifactStore() {
  const store = {
    sdl: '',
    status: 200,
    requests: [] as { ifNoneMatch: string | undefined; status: number }[],
    url: '',
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    const etag = `"${createHash('sha256').update(store.sdl).digest('hex').slice(0, 16)}"`;
    const ifNoneMatch = req.headers['if-none-match'];
    const status = store.status !== 200 ? store.status : ifNoneMatch === etag ? 304 : 200;
    store.requests.push({ ifNoneMatch, status });
    if (status === 200) res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', etag }).end(store.sdl);
    else res.writeHead(status, { etag }).end();
  });
  const port = await listen(server, 0, '127.0.0.1');
  store.url = `http://127.0.0.1:${port}/supergraph.graphql`;
  store.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return store;
}

const hasStock = (schema: GraphQLSchema | undefined) =>
  Boolean((schema?.getType('Product') as GraphQLObjectType | undefined)?.getFields().stock);

describe('supergraphFromUrl', () => {
  test('polls with If-None-Match, picks up a changed supergraph and refuses an invalid one', async () => {
    const store = await artifactStore();
    store.sdl = await supergraphWithoutStock();
    const logger = recordingLogger();
    // The real Apollo gateway, so "valid" means what the running gateway would accept.
    const gateway = new ApolloGateway({ supergraphSdl: withAccessPolicy(supergraphFromUrl(store.url, logger, { pollMs: 50 })).hook });
    let schema: GraphQLSchema | undefined;
    gateway.onSchemaLoadOrUpdate(({ apiSchema }) => {
      schema = apiSchema;
    });
    try {
      await gateway.load();
      expect(schema).toBeDefined();
      expect(hasStock(schema)).toBe(false);
      expect(store.requests[0]).toEqual({ ifNoneMatch: undefined, status: 200 });

      // Unchanged: conditional requests, answered without a body.
      await until('three polls answered 304', () => store.requests.filter((request) => request.status === 304).length >= 3);
      const etag = store.requests[1]?.ifNoneMatch;
      expect(etag).toMatch(/^"[0-9a-f]{16}"$/);
      expect(store.requests.slice(1).every((request) => request.ifNoneMatch === etag)).toBe(true);

      store.sdl = await readFile(COMMITTED, 'utf8');
      await until('the new supergraph is in', () => hasStock(schema));
      expect(count(logger, 'supergraph reloaded')).toBe(1);

      const served = schema;
      store.sdl = GARBAGE;
      await until('the garbage is refused', () => count(logger, 'new supergraph refused; keeping the current one') === 1);
      // Refused once, not on every poll: its ETag is remembered, so later polls are 304s.
      const seen = store.requests.length;
      await until('two more polls', () => store.requests.length >= seen + 2);
      expect(store.requests.slice(seen).every((request) => request.status === 304)).toBe(true);
      expect(count(logger, 'new supergraph refused; keeping the current one')).toBe(1);
      expect(schema).toBe(served);

      store.status = 503;
      const before = store.requests.length;
      await until('an error status is seen', () => count(logger, 'supergraph URL answered an error; keeping the current one') >= 1);
      expect(store.requests.length).toBeGreaterThan(before);
      expect(schema).toBe(served);
      expect(count(logger, 'supergraph reloaded')).toBe(1);
    } finally {
      await gateway.stop();
    }
    // Stopping the gateway stops the polling (a poll already on the wire may still land).
    await new Promise((resolve) => setTimeout(resolve, 100));
    const after = store.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(store.requests.length).toBe(after);
    await store.close();
  });

  test('does not start when the first fetch fails', async () => {
    const store = await artifactStore();
    store.status = 404;
    const source = withAccessPolicy(supergraphFromUrl(store.url, recordingLogger(), { pollMs: 50 }));
    const gateway = new ApolloGateway({ supergraphSdl: source.hook });
    try {
      await expect(gateway.load()).rejects.toThrow(/answered 404/);
    } finally {
      await store.close();
    }
  });
});
