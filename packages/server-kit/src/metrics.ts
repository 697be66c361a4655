import { AsyncLocalStorage } from 'node:async_hooks';
import type { ApolloServerPlugin } from '@apollo/server';
import { Counter, collectDefaultMetrics, Registry } from 'prom-client';

type RequestLabels = { operation: string; tenant: string };

/**
 * Prometheus metrics of one service: `http_requests_total` and `db_queries_total`, labelled by
 * operation kind and tenant, and the process's own (CPU, memory, event loop). SQL statements are attributed to the request that sent them
 * through async-local state, so counting needs nothing from resolvers.
 */
export function createMetrics(service: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const labelNames = ['operation', 'tenant'] as const;
  const httpRequests = new Counter({ name: 'http_requests_total', help: 'GraphQL requests served', labelNames, registers: [registry] });
  const dbQueries = new Counter({ name: 'db_queries_total', help: 'SQL statements sent', labelNames, registers: [registry] });
  const cacheLookups = new Counter({
    name: 'entity_cache_lookups_total',
    help: 'Entity cache lookups by tenant and result (hit, miss)',
    labelNames: ['tenant', 'result'] as const,
    registers: [registry],
  });
  const current = new AsyncLocalStorage<RequestLabels>();
  // Plain totals beside the counters, so tests and the benchmark read them without parsing.
  let queries = 0;
  let requests = 0;

  return {
    registry,
    /** Runs one request with its labels in scope; the operation kind is filled in once known. */
    track<T>(tenant: string, run: () => Promise<T>): Promise<T> {
      return current.run({ operation: 'unknown', tenant }, run);
    },
    /** Pass to `connect({ onQuery })`. */
    countQuery() {
      queries += 1;
      dbQueries.inc(current.getStore() ?? { operation: 'none', tenant: 'none' });
    },
    /** One lookup of the gateway's entity cache. */
    countCacheLookup(tenant: string, hit: boolean) {
      cacheLookups.inc({ tenant, result: hit ? 'hit' : 'miss' });
    },
    /** Statements sent since start. */
    queryCount: () => queries,
    /** GraphQL requests executed since start (not those refused before execution). */
    requestCount: () => requests,
    plugin: {
      async requestDidStart() {
        return {
          async didResolveOperation({ operation }) {
            const labels = current.getStore();
            if (labels) labels.operation = operation?.operation ?? 'unknown';
          },
          async willSendResponse() {
            requests += 1;
            const labels = current.getStore();
            if (labels) httpRequests.inc(labels);
          },
        };
      },
    } satisfies ApolloServerPlugin,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
