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
});
