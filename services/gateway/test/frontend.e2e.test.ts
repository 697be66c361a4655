import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema, parse, validate } from 'graphql';
import { chromium } from 'playwright-core';
import { describe, expect } from 'vitest';
import { parseTrustedDocuments } from '../src/server.ts';
import { stackTest as it, type Stack } from './stack.ts';

const MANIFEST_FILE = new URL('../persisted-documents.json', import.meta.url);
const API_SCHEMA = new URL('../../../supergraph/api-schema.graphql', import.meta.url);
/** Test artifacts (the explorer's screenshot) land here; CI keeps the folder. */
const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));
const SUBGRAPHS = ['tenant', 'product', 'order', 'project'] as const;

type Manifest = { operations: { id: string; name: string; body: string }[] };
const manifest = async (): Promise<Manifest> => JSON.parse(await readFile(MANIFEST_FILE, 'utf8'));
const byName = (m: Manifest, name: string) => m.operations.find((operation) => operation.name === name)!;

/** POSTs a raw JSON body (documentId, extensions ...) to the gateway. */
async function post(url: string, token: string, body: unknown) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

const subgraphCalls = (stack: Stack) => SUBGRAPHS.map((name) => stack.metrics[name].requestCount());

describe('CORS', () => {
  const APP = 'https://app.example.com';

  it('answers a preflight from an allowed origin before authentication, with the headers the API needs', async ({ stack }) => {
    const gateway = await stack.startGateway({ corsOrigins: [APP, 'http://localhost:5173'] });
    const response = await fetch(gateway.url, {
      method: 'OPTIONS',
      headers: { origin: APP, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(APP);
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    expect(response.headers.get('access-control-allow-methods')).toBe('GET, POST, OPTIONS');
    const allowed = response.headers.get('access-control-allow-headers')?.split(', ');
    expect(allowed).toEqual(expect.arrayContaining(['authorization', 'content-type', 'apollo-require-preflight', 'traceparent']));
    expect(response.headers.get('vary')).toContain('origin');

    // The request itself carries the origin back, and lets the page read the request id.
    const token = await stack.auth.token('avocado');
    const answer = await fetch(gateway.url, {
      method: 'POST',
      headers: { origin: APP, 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ tenant { name } }' }),
    });
    expect(await answer.json()).toEqual({ data: { tenant: { name: 'Avocado Inc' } } });
    expect(answer.headers.get('access-control-allow-origin')).toBe(APP);
    expect(answer.headers.get('access-control-expose-headers')).toContain('x-request-id');
  });

  it('refuses a preflight from an origin not on the list, and gives its requests no CORS headers', async ({ stack }) => {
    const gateway = await stack.startGateway({ corsOrigins: [APP] });
    for (const origin of ['https://evil.example.com', 'https://app.example.com.evil.example', 'http://app.example.com']) {
      const preflight = await fetch(gateway.url, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
      });
      expect(preflight.status, origin).toBe(403);
      expect(preflight.headers.get('access-control-allow-origin'), origin).toBeNull();
      const request = await fetch(gateway.url, {
        method: 'POST',
        headers: { origin, 'content-type': 'application/json' },
        body: '{"query":"{ tenant { name } }"}',
      });
      expect(request.status, origin).toBe(401);
      expect(request.headers.get('access-control-allow-origin'), origin).toBeNull();
    }
  });

  it('allows any origin with *, and then never with credentials', async ({ stack }) => {
    const gateway = await stack.startGateway({ corsOrigins: ['*'] });
    const response = await fetch(gateway.url, {
      method: 'OPTIONS',
      headers: { origin: 'https://anyone.example', 'access-control-request-method': 'POST' },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
  });
});

describe('trusted documents', () => {
  it('ships a manifest of the contract operations, each valid against the API schema', async () => {
    const m = await manifest();
    const schema = buildSchema(await readFile(API_SCHEMA, 'utf8'));
    expect(m.operations.length).toBeGreaterThanOrEqual(19);
    for (const operation of m.operations) {
      expect(operation.id, operation.name).toBe(createHash('sha256').update(operation.body).digest('hex'));
      expect(validate(schema, parse(operation.body)), operation.name).toEqual([]);
    }
    const mutations = m.operations.filter((operation) => operation.body.startsWith('mutation')).map((operation) => operation.name);
    expect(Object.keys(schema.getMutationType()?.getFields() ?? {}).length).toBe(mutations.length);
  });

  it('with ONLY_PERSISTED_DOCUMENTS runs a listed id and refuses any other operation before parsing', async ({ stack }) => {
    const m = await manifest();
    const documents = parseTrustedDocuments(m);
    const gateway = await stack.startGateway({ trustedDocuments: { documents, only: true } });
    const token = await stack.auth.token('avocado', ['tenant:admin']);
    const tenantName = byName(m, 'TenantName');

    expect((await post(gateway.url, token, { documentId: tenantName.id })).body).toEqual({ data: { tenant: { name: 'Avocado Inc' } } });
    const apq = { persistedQuery: { version: 1, sha256Hash: tenantName.id } };
    expect((await post(gateway.url, token, { extensions: apq })).body).toEqual({ data: { tenant: { name: 'Avocado Inc' } } });
    // Apollo Client sends the text along with its hash on a retry: the same text is fine.
    const withText = await post(gateway.url, token, { query: tenantName.body, extensions: apq });
    expect(withText.body.data).toEqual({ tenant: { name: 'Avocado Inc' } });
    // GET too (with the header that passes the CSRF check, as Apollo Client sends it).
    const get = await fetch(`${gateway.url}?documentId=${tenantName.id}`, {
      headers: { authorization: `Bearer ${token}`, 'apollo-require-preflight': 'true' },
    });
    expect(await get.json()).toEqual({ data: { tenant: { name: 'Avocado Inc' } } });
    const viewer = await post(gateway.url, token, { documentId: byName(m, 'Viewer').id });
    expect(viewer.body.data.viewer).toMatchObject({ id: 'user@avocado', tenant: { id: 'avocado' } });

    const before = subgraphCalls(stack);
    const text = '{ tenant { name plan } }';
    const refused = [
      await post(gateway.url, token, { query: text }),
      // An automatic persisted query is text the list does not have either.
      await post(gateway.url, token, { query: text, extensions: { persistedQuery: { version: 1, sha256Hash: sha256(text) } } }),
      await post(gateway.url, token, { documentId: 'not-listed' }),
      await post(gateway.url, token, { query: '{ this is not even GraphQL' }),
    ];
    for (const response of refused) {
      expect(response.status).toBe(400);
      expect(response.body.errors.map((error: any) => error.extensions.code)).toEqual(['PERSISTED_QUERY_NOT_IN_LIST']);
    }
    expect(refused[0]?.body.errors[0].message).toMatch(/Only trusted documents are accepted/);
    expect(subgraphCalls(stack)).toEqual(before);
  });

  it('never lets a client redefine a listed id, with or without ONLY_PERSISTED_DOCUMENTS', async ({ stack }) => {
    const m = await manifest();
    const token = await stack.auth.token('avocado', ['tenant:admin']);
    const tenantName = byName(m, 'TenantName');
    for (const only of [true, false]) {
      const gateway = await stack.startGateway({ trustedDocuments: { documents: parseTrustedDocuments(m), only } });
      const before = subgraphCalls(stack);
      const other = 'mutation { updateTenant(input: { name: "pwned" }) { name } }';
      for (const body of [
        { documentId: tenantName.id, query: other },
        { query: other, extensions: { persistedQuery: { version: 1, sha256Hash: tenantName.id } } },
      ]) {
        const response = await post(gateway.url, token, body);
        expect(response.status, `only=${only}`).toBe(400);
        expect(response.body.errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
        expect(response.body.errors[0].message).toMatch(/names a trusted document; it cannot be sent with other text/);
      }
      expect(subgraphCalls(stack)).toEqual(before);
      expect((await post(gateway.url, token, { documentId: tenantName.id })).body.data).toEqual({ tenant: { name: 'Avocado Inc' } });
      await gateway.stop();
    }
  });

  it('without ONLY_PERSISTED_DOCUMENTS keeps automatic persisted queries and free text, and reads a Hive id map', async ({ stack }) => {
    const documents = parseTrustedDocuments({ 'web~1.0~tenant': 'query T { tenant { id name } }' });
    const gateway = await stack.startGateway({ trustedDocuments: { documents, only: false } });
    const token = await stack.auth.token('avocado');
    const hive = await post(gateway.url, token, { documentId: 'web~1.0~tenant' });
    expect(hive.body.data).toEqual({ tenant: { id: 'avocado', name: 'Avocado Inc' } });
    expect((await post(gateway.url, token, { query: '{ tenant { plan } }' })).body.data).toEqual({ tenant: { plan: 'PRO' } });

    const query = '{ tenant { slug } }';
    const persistedQuery = { version: 1, sha256Hash: sha256(query) };
    const unknown = await post(gateway.url, token, { extensions: { persistedQuery } });
    expect(unknown.body.errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    expect((await post(gateway.url, token, { query, extensions: { persistedQuery } })).body.data).toEqual({ tenant: { slug: 'avocado' } });
    expect((await post(gateway.url, token, { extensions: { persistedQuery } })).body.data).toEqual({ tenant: { slug: 'avocado' } });
    // An id that is not listed is not a documentId the gateway can guess.
    const unlisted = await post(gateway.url, token, { documentId: 'web~2.0~tenant' });
    expect(unlisted.body.errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
  });
});

describe('the explorer', () => {
  it('serves GraphiQL to a browser before authentication, from its own files, and only when enabled', async ({ stack }) => {
    const gateway = await stack.startGateway({ explorer: true });
    const page = await fetch(gateway.url, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain('<script src="/explorer/explorer.js"></script>');
    expect(html).not.toMatch(/https?:\/\//);
    const script = await fetch(new URL('/explorer/explorer.js', gateway.url));
    expect(script.status).toBe(200);
    expect((await script.text()).length).toBeGreaterThan(100_000);
    // A GraphQL client's GET is still the API: no token, no answer.
    expect((await fetch(`${gateway.url}?query=%7B__typename%7D`, { headers: { accept: 'application/json' } })).status).toBe(401);

    const off = await stack.startGateway({ explorer: false });
    expect((await fetch(off.url, { headers: { accept: 'text/html' } })).status).toBe(401);
    expect((await fetch(new URL('/explorer/explorer.js', off.url))).status).toBe(404);
  });

  it('runs { tenant { name } } in headless Chromium with the token typed into it', async ({ stack }) => {
    const gateway = await stack.startGateway({ explorer: true });
    const token = await stack.auth.token('avocado');
    const profile = await mkdtemp(join(tmpdir(), 'tenantgraph-chromium-'));
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1280, height: 720 },
    });
    try {
      const page = browser.pages()[0] ?? (await browser.newPage());
      const outside: string[] = [];
      page.on('request', (request) => {
        if (!request.url().startsWith(new URL(gateway.url).origin)) outside.push(request.url());
      });
      await page.goto(gateway.url);
      await page.locator('#tg-token').fill(token);
      await page.locator('.graphiql-query-editor').getByText('tenant').first().waitFor();
      await page.locator('.graphiql-execute-button').click();
      const result = page.locator('.graphiql-response');
      await result.getByText('"Avocado Inc"').waitFor({ timeout: 30_000 });
      expect(await result.innerText()).toContain('"name": "Avocado Inc"');
      expect(outside).toEqual([]);
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'explorer.png') });
    } finally {
      await browser.close();
      await rm(profile, { recursive: true, force: true });
    }
    // UPDATE_DOCS_SCREENSHOT=1 refreshes the README's picture with this one.
    const docs = fileURLToPath(new URL('../../../docs/explorer.png', import.meta.url));
    if (process.env.UPDATE_DOCS_SCREENSHOT) await copyFile(join(ARTIFACTS, 'explorer.png'), docs);
  }, 120_000);
});

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
