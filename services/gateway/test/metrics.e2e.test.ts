import { createLogger } from '@tenantgraph/core';
import { createMetrics, createMetricsServer } from '@tenantgraph/server-kit';
import { graphql } from '@tenantgraph/testkit';
import { describe, expect, test } from 'vitest';
import { startGatewayProcess } from './process.ts';
import { stackTest } from './stack.ts';

const it = stackTest;

describe('metrics', () => {
  it('are never served on the API port of the gateway or of any subgraph', async ({ stack }) => {
    const apiUrls = [stack.gatewayUrl, ...Object.values(stack.subgraphUrls)].map((url) => url.replace(/\/graphql$/, '/metrics'));
    for (const url of apiUrls) {
      const response = await fetch(url);
      expect({ url, status: response.status, body: await response.text() }).toMatchObject({ status: 404 });
    }
  });

  it('count the gateway requests by tenant on a listener of their own', async ({ stack }) => {
    const metrics = createMetrics('gateway');
    const gateway = await stack.startGateway({ metrics });
    const metricsServer = createMetricsServer({ registry: metrics.registry, logger: createLogger({}, 'silent') });
    try {
      const port = await metricsServer.start(0);
      const token = await stack.auth.token('avocado');
      expect((await graphql(gateway.url, { query: '{ __typename }', token })).status).toBe(200);
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text).toMatch(/graphql_request_duration_seconds_count\{[^}]*tenant="avocado"[^}]*\} 1/);
      expect(text).toContain('process_cpu_seconds_total');
      expect((await fetch(`http://127.0.0.1:${port}/graphql`)).status).toBe(404);
    } finally {
      await metricsServer.stop();
      await gateway.stop();
    }
  });

  it('time the requests of each tenant at the gateway, in the subgraphs and their SQL', async ({ stack }) => {
    const metrics = createMetrics('gateway');
    const gateway = await stack.startGateway({ metrics });
    try {
      for (const tenant of ['avocado', 'mango']) {
        const token = await stack.auth.token(tenant);
        const answer = await graphql(gateway.url, {
          query: 'query TenantName { tenant { name products(first: 1) { nodes { id } } } }',
          token,
        });
        expect(answer.body.errors).toBeUndefined();
      }
      const gatewayText = await metrics.registry.metrics();
      const subgraphText = await stack.metrics.product.registry.metrics();
      for (const tenant of ['avocado', 'mango']) {
        expect(gatewayText).toMatch(
          new RegExp(
            `graphql_request_duration_seconds_count\\{[^}]*tenant="${tenant}",operation="TenantName",type="query",outcome="OK"[^}]*\\} 1`,
          ),
        );
        expect(gatewayText).toMatch(new RegExp(`graphql_request_duration_seconds_bucket\\{[^}]*tenant="${tenant}"`));
        expect(subgraphText).toMatch(new RegExp(`graphql_request_duration_seconds_count\\{[^}]*tenant="${tenant}"[^}]*outcome="OK"`));
        expect(subgraphText).toMatch(new RegExp(`db_query_duration_seconds_count\\{[^}]*tenant="${tenant}"`));
      }
      expect(gatewayText).toMatch(/subgraph_fetch_duration_seconds_count\{[^}]*subgraph="tenant",outcome="200"[^}]*\} 2/);
    } finally {
      await gateway.stop();
    }
  });

  it('count refusals by tenant and code', async ({ stack }) => {
    const metrics = createMetrics('gateway');
    const gateway = await stack.startGateway({ metrics, queryBudgets: { PRO: 1 } });
    try {
      const token = await stack.auth.token('avocado');
      const answer = await graphql(gateway.url, { query: '{ tenant { products(first: 50) { nodes { name } } } }', token });
      expect(answer.body.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_EXPENSIVE');
      expect(await metrics.registry.metrics()).toMatch(
        /graphql_rejections_total\{[^}]*tenant="avocado",code="QUERY_TOO_EXPENSIVE"[^}]*\} 1/,
      );
    } finally {
      await gateway.stop();
    }
  });
});

describe('the gateway process', () => {
  test.each([
    ['one process', '1'],
    ['two workers', '2'],
  ])(
    'with %s serves /metrics on METRICS_PORT only, and answers on its API port',
    async (_name, workers) => {
      const gateway = await startGatewayProcess({ GATEWAY_WORKERS: workers });
      try {
        const token = await gateway.auth.token('avocado');
        const answer = await graphql(gateway.url, { query: '{ __typename }', token });
        expect(answer.body.data).toEqual({ __typename: 'Query' });
        expect((await fetch(gateway.url.replace(/\/graphql$/, '/metrics'))).status).toBe(404);
        const metrics = await fetch(gateway.metricsUrl);
        expect(metrics.status).toBe(200);
        expect(await metrics.text()).toMatch(/graphql_request_duration_seconds_count\{[^}]*tenant="avocado"[^}]*\} 1/);
      } finally {
        await gateway.stop();
      }
    },
    120_000,
  );

  test('with METRICS_MAX_TENANTS=1 keeps the first tenant its own series and counts the next under `other`', async () => {
    const gateway = await startGatewayProcess({ METRICS_MAX_TENANTS: '1' });
    try {
      for (const tenant of ['avocado', 'mango']) {
        const answer = await graphql(gateway.url, { query: '{ __typename }', token: await gateway.auth.token(tenant) });
        expect(answer.status).toBe(200);
      }
      const text = await (await fetch(gateway.metricsUrl)).text();
      expect(text).toMatch(/graphql_request_duration_seconds_count\{[^}]*tenant="avocado"[^}]*\} 1/);
      expect(text).toMatch(/graphql_request_duration_seconds_count\{[^}]*tenant="other"[^}]*\} 1/);
      expect(text).not.toContain('tenant="mango"');
    } finally {
      await gateway.stop();
    }
  }, 120_000);
});
