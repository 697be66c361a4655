import type { ApolloServerPlugin } from '@apollo/server';
import { setSpanAttributes } from '@tenantgraph/telemetry';
import { Counter, collectDefaultMetrics, Gauge, Histogram, type Metric, Registry } from 'prom-client';
import type { RequestRecord } from './observe.ts';

/** The label value shared by every tenant (or operation) beyond the ones that keep their own series. */
export const OTHER = 'other';
/** Tenants with a series of their own when `METRICS_MAX_TENANTS` is not set. */
export const DEFAULT_METRICS_MAX_TENANTS = 100;
/** Operation names with a series of their own; clients choose the names, so the rest share `other`. */
const MAX_OPERATIONS = 50;
/** Values whose traffic is counted to rank them; beyond, new ones go to `other` uncounted. */
const MAX_TRACKED = 10_000;
/** Seconds: from a cached answer to a request at the deadline. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const SQL_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];
const REJECTION_CODES = new Set(['TOO_MANY_REQUESTS', 'QUERY_TOO_EXPENSIVE']);

/** One database pool as the metrics see it. */
export type PoolStats = { database: string; inUse: number; waiting: number };

/**
 * A label whose values are bounded: the first `limit` values keep their own series; a value
 * beyond takes the place of the least used kept one once it has had twice its traffic (whose
 * series are then removed), and until then is counted as `other`. So the busiest values have
 * their own series, and a scrape never grows past `limit + 1` of them.
 */
export function boundedLabel(limit: number, onDemote: (value: string) => void = () => {}) {
  const traffic = new Map<string, number>();
  const kept = new Set<string>();
  return (value: string): string => {
    const count = (traffic.get(value) ?? 0) + 1;
    if (traffic.has(value) || traffic.size < MAX_TRACKED) traffic.set(value, count);
    if (kept.has(value)) return value;
    if (kept.size < limit) {
      kept.add(value);
      return value;
    }
    let least: string | undefined;
    for (const candidate of kept) if (least === undefined || (traffic.get(candidate) ?? 0) < (traffic.get(least) ?? 0)) least = candidate;
    if (least === undefined || count <= 2 * (traffic.get(least) ?? 0)) return OTHER;
    kept.delete(least);
    kept.add(value);
    onDemote(least);
    return value;
  };
}

/**
 * Prometheus metrics of one service (gateway or subgraph), served by `createMetricsServer`:
 * - `graphql_request_duration_seconds{tenant,operation,type,outcome}`: every GraphQL request, refused ones too
 *   (`outcome` is the error code, `OK` without error);
 * - `graphql_rejections_total{tenant,code}`: rate-limit, concurrency and cost refusals;
 * - `db_query_duration_seconds{tenant}`: each SQL statement, attributed to its request through async-local state;
 * - `db_pool_connections_in_use` / `db_pool_waiting{database}` (`watchPools`);
 * - `subgraph_fetch_duration_seconds{subgraph,outcome}` (the gateway);
 * - `graphql_subscriptions_open` (the gateway: subscriptions open in this process, `watchSubscriptions`);
 * - `entity_cache_lookups_total{tenant,result}` (the gateway's entity cache);
 * - the process's own (CPU, memory, event loop).
 * The tenant label is bounded by `maxTenants` (`METRICS_MAX_TENANTS`, see `boundedLabel`).
 * @example const metrics = createMetrics('product', { maxTenants: env.METRICS_MAX_TENANTS })
 */
export function createMetrics(service: string, { maxTenants = DEFAULT_METRICS_MAX_TENANTS } = {}) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const requestDuration = new Histogram({
    name: 'graphql_request_duration_seconds',
    help: 'GraphQL requests, from arrival to the answer sent, by tenant, operation name and type, and outcome (error code or OK)',
    labelNames: ['tenant', 'operation', 'type', 'outcome'] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const rejections = new Counter({
    name: 'graphql_rejections_total',
    help: 'Requests refused for a rate, concurrency or cost limit, by tenant and code',
    labelNames: ['tenant', 'code'] as const,
    registers,
  });
  const queryDuration = new Histogram({
    name: 'db_query_duration_seconds',
    help: 'SQL statements sent, by the tenant of the request that sent them (none: outside a request)',
    labelNames: ['tenant'] as const,
    buckets: SQL_BUCKETS,
    registers,
  });
  const fetchDuration = new Histogram({
    name: 'subgraph_fetch_duration_seconds',
    help: 'Subgraph requests sent by the gateway, by subgraph and outcome (HTTP status, or error)',
    labelNames: ['subgraph', 'outcome'] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  let pools: () => PoolStats[] = () => [];
  let openSubscriptions: () => number = () => 0;
  new Gauge({
    name: 'graphql_subscriptions_open',
    help: 'Subscriptions open in this process (the gateway)',
    registers,
    collect() {
      this.set(openSubscriptions());
    },
  });
  const poolGauges = [
    ['db_pool_connections_in_use', 'Connections checked out of the pool, by database', 'inUse'],
    ['db_pool_waiting', 'Requests waiting for a connection, by database', 'waiting'],
  ] as const;
  for (const [name, help, field] of poolGauges) {
    new Gauge({
      name,
      help,
      labelNames: ['database'] as const,
      registers,
      collect() {
        this.reset();
        for (const pool of pools()) this.set({ database: pool.database }, pool[field]);
      },
    });
  }
  const cacheLookups = new Counter({
    name: 'entity_cache_lookups_total',
    help: "Lookups of the gateway's entity cache, by tenant and result (hit, miss)",
    labelNames: ['tenant', 'result'] as const,
    registers,
  });
  const byTenant: Metric<string>[] = [requestDuration, rejections, queryDuration, cacheLookups];
  const tenantLabel = boundedLabel(maxTenants, (demoted) => {
    for (const metric of byTenant) void forget(metric, 'tenant', demoted);
  });
  const operationLabel = boundedLabel(MAX_OPERATIONS, (demoted) => void forget(requestDuration, 'operation', demoted));
  // Plain totals beside the metrics, so tests and the benchmark read them without parsing.
  let queries = 0;
  let requests = 0;
  /** The request's operation, once resolved: its record and span are named after it. */
  const noteOperation = (record: RequestRecord | undefined, type: string, operationName: string | undefined) => {
    if (!record) return;
    record.operationName = operationName;
    record.operationType = type;
    setSpanAttributes({
      'graphql.operation.type': type,
      ...(operationName ? { 'graphql.operation.name': operationName } : {}),
    });
  };
  /** A request answered by the executor, with its first error's code (none when it succeeded). */
  const noteAnswer = (record: RequestRecord | undefined, code: string | undefined) => {
    requests += 1;
    if (record && code !== undefined) record.code = code;
  };

  return {
    registry,
    /** Pass to `connect({ onQuery })`: one statement sent, how long it took, and whose it was. */
    countQuery(durationMs: number, tenant?: string) {
      queries += 1;
      queryDuration.observe({ tenant: tenant === undefined ? 'none' : tenantLabel(tenant) }, durationMs / 1000);
    },
    /** One lookup of the gateway's entity cache. */
    countCacheLookup(tenant: string, hit: boolean) {
      cacheLookups.inc({ tenant: tenantLabel(tenant), result: hit ? 'hit' : 'miss' });
    },
    /** Statements sent since start. */
    queryCount: () => queries,
    /** GraphQL requests executed since start (not those refused before execution). */
    requestCount: () => requests,
    /** One request answered (`createGraphQLHttpServer`'s `onFinish`). */
    observeRequest(record: RequestRecord, status: number, seconds: number) {
      const tenant = record.tenantId === undefined ? 'none' : tenantLabel(record.tenantId);
      const outcome = record.code ?? (status < 400 ? 'OK' : `HTTP_${status}`);
      const operation = record.operationName === undefined ? '' : operationLabel(record.operationName.slice(0, 100));
      requestDuration.observe({ tenant, operation, type: record.operationType ?? '', outcome }, seconds);
      if (REJECTION_CODES.has(outcome)) rejections.inc({ tenant, code: outcome });
    },
    /** One subgraph request sent by the gateway. */
    observeFetch(subgraph: string, outcome: string, seconds: number) {
      fetchDuration.observe({ subgraph, outcome }, seconds);
    },
    /** Where the pool gauges read from (a data subgraph's database router). */
    watchPools(source: () => PoolStats[]) {
      pools = source;
    },
    /** Where the open-subscriptions gauge reads from (the gateway's subscription server). */
    watchSubscriptions(source: () => number) {
      openSubscriptions = source;
    },
    noteOperation,
    noteAnswer,
    /** `noteOperation` and `noteAnswer` for Apollo Server (the gateway), on the context's `record`. */
    plugin: {
      async requestDidStart({ contextValue }) {
        const { record } = contextValue as { record?: RequestRecord };
        return {
          async didResolveOperation({ operation, operationName }) {
            if (operation) noteOperation(record, operation.operation, operationName ?? undefined);
          },
          async willSendResponse({ response }) {
            const errors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
            const code = errors?.[0]?.extensions?.code;
            noteAnswer(record, typeof code === 'string' ? code : undefined);
          },
        };
      },
    } satisfies ApolloServerPlugin,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Removes every series of `metric` whose `label` is `value` (a tenant that lost its own series). */
async function forget(metric: Metric<string>, label: string, value: string) {
  const { values } = await metric.get();
  const seen = new Set<string>();
  for (const { labels } of values) {
    if (labels[label] !== value) continue;
    const { le: _bucket, ...series } = labels;
    const key = JSON.stringify(series);
    if (seen.has(key)) continue;
    seen.add(key);
    metric.remove(series as Record<string, string>);
  }
}
