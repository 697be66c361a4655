import { fileURLToPath } from 'node:url';
import {
  authEnvironment,
  concurrencyEnvironment,
  DEFAULT_CONCURRENCY,
  eventEnvironment,
  loadEnvironment,
  port,
  processEnvironment,
} from '@tenantgraph/server-kit';
import { z } from 'zod';
import { COST_PER_SLOT, DEFAULT_COST_RATES, DEFAULT_QUERY_BUDGETS, type QueryBudgets } from './budget.ts';
import { DEFAULT_QUERY_LIMITS } from './limits.ts';
import { DEFAULT_PLAN_LIMITS, type PlanLimits } from './rate-limit.ts';
import { DEFAULT_SUBSCRIPTION_LIMITS, type SubscriptionLimits } from './subscriptions/limits.ts';

const PLANS = ['FREE', 'PRO', 'ENTERPRISE'] as const;
const { perConnection, perTenant } = DEFAULT_SUBSCRIPTION_LIMITS;

const SUBGRAPHS = ['tenant', 'product', 'order', 'project', 'analytics'] as const;

/** Everything the gateway reads from `process.env`, validated once at start. */
export const environment = loadEnvironment(
  z
    .object({
      ...processEnvironment,
      NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
      PORT: port(4000),
      HOST: z.string().default('0.0.0.0'),
      // Prometheus text on its own listener, never on PORT: the metrics name every active tenant.
      METRICS_PORT: port(9400),
      METRICS_HOST: z.string().default('127.0.0.1'),
      ...authEnvironment,
      TENANT_REGISTRY_URL: z.url().default('http://127.0.0.1:4001/internal/tenants'),
      REGISTRY_TOKEN: z.string().min(16),
      /** Seconds the last tenant list keeps serving while the registry cannot be reached; then 503. */
      REGISTRY_MAX_STALE: z.coerce.number().positive().default(60),
      SUPERGRAPH_PATH: z.string().default(fileURLToPath(new URL('../../../supergraph/supergraph.graphql', import.meta.url))),
      /** When set, the supergraph is polled from this URL (with ETag) instead of read from SUPERGRAPH_PATH. */
      SUPERGRAPH_URL: z.url().optional(),
      /** Poll interval of the supergraph source: 10 000 for SUPERGRAPH_URL, 1 000 for the file by default. */
      SUPERGRAPH_POLL_MS: z.coerce.number().int().positive().optional(),
      SUBGRAPH_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
      SUBGRAPH_MAX_SOCKETS: z.coerce.number().int().positive().default(64),
      /** Processes serving the port (node:cluster); the primary keeps their rate-limit buckets and serves their summed metrics. */
      GATEWAY_WORKERS: z.coerce.number().int().min(1).max(64).default(1),
      // Bounds on one operation (see limits.ts); the defaults let the contract's dashboard through.
      QUERY_MAX_DEPTH: z.coerce.number().int().positive().default(DEFAULT_QUERY_LIMITS.maxDepth),
      QUERY_MAX_ALIASES: z.coerce.number().int().nonnegative().default(DEFAULT_QUERY_LIMITS.maxAliases),
      QUERY_MAX_TOKENS: z.coerce.number().int().positive().default(DEFAULT_QUERY_LIMITS.maxTokens),
      QUERY_MAX_DIRECTIVES: z.coerce.number().int().nonnegative().default(DEFAULT_QUERY_LIMITS.maxDirectives),
      // The most one operation may cost by plan, list sizes counted (see budget.ts); QUERY_TOO_EXPENSIVE beyond.
      QUERY_BUDGET_FREE: z.coerce.number().int().positive().default(DEFAULT_QUERY_BUDGETS.FREE),
      QUERY_BUDGET_PRO: z.coerce.number().int().positive().default(DEFAULT_QUERY_BUDGETS.PRO),
      QUERY_BUDGET_ENTERPRISE: z.coerce.number().int().positive().default(DEFAULT_QUERY_BUDGETS.ENTERPRISE),
      // Requests per second per tenant, by plan; a tenant may burst to RATE_LIMIT_BURST_FACTOR times that.
      RATE_LIMIT_FREE_RPS: z.coerce.number().positive().default(DEFAULT_PLAN_LIMITS.FREE.perSecond),
      RATE_LIMIT_PRO_RPS: z.coerce.number().positive().default(DEFAULT_PLAN_LIMITS.PRO.perSecond),
      RATE_LIMIT_ENTERPRISE_RPS: z.coerce.number().positive().default(DEFAULT_PLAN_LIMITS.ENTERPRISE.perSecond),
      RATE_LIMIT_BURST_FACTOR: z.coerce.number().min(1).default(2),
      // Estimated cost per second per tenant, by plan (see budget.ts); bursts like the requests, never below the plan's budget.
      COST_RATE_FREE: z.coerce.number().positive().default(DEFAULT_COST_RATES.FREE.perSecond),
      COST_RATE_PRO: z.coerce.number().positive().default(DEFAULT_COST_RATES.PRO.perSecond),
      COST_RATE_ENTERPRISE: z.coerce.number().positive().default(DEFAULT_COST_RATES.ENTERPRISE.perSecond),
      // Shared rate-limit buckets for several gateway replicas; in memory when unset.
      REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
      /** The entity cache of subgraph answers by tenant (see entity-cache.ts); `off` turns it off. */
      ENTITY_CACHE: z.enum(['on', 'off']).default('on'),
      /** Memory the cached answers may take, in MiB. */
      ENTITY_CACHE_MB: z.coerce.number().positive().default(64),
      /** The most of it one tenant's answers may take (0 < share <= 1), so one tenant cannot evict every other. */
      ENTITY_CACHE_TENANT_SHARE: z.coerce.number().gt(0).max(1).default(0.25),
      /** Seconds an answer is kept at most, whatever invalidated it or not: the last resort. */
      ENTITY_CACHE_TTL_S: z.coerce.number().positive().default(60),
      // Requests in flight per tenant by plan, and over all tenants (served round-robin beyond).
      ...concurrencyEnvironment(DEFAULT_CONCURRENCY),
      // Estimated cost per concurrency slot: an operation holds ceil(cost / this) slots (see budget.ts).
      CONCURRENCY_COST_PER_SLOT: z.coerce.number().int().positive().default(COST_PER_SLOT),
      /** The explorer (GraphiQL) at GET /graphql for browsers; on unless NODE_ENV=production. */
      EXPLORER: z.stringbool().optional(),
      /** Origins of web apps allowed to call the API from a browser: exact, comma-separated; `*` for any (never with credentials). */
      CORS_ORIGINS: z
        .string()
        .default('')
        .transform((value) =>
          value
            .split(',')
            .map((origin) => origin.trim())
            .filter(Boolean),
        )
        .pipe(z.array(z.string().refine(isOrigin, 'each origin is exact, like https://app.example.com (no path), or *'))),
      /** A manifest of trusted documents (file path or http(s) URL): Apollo's persisted query manifest or an id → document map. */
      PERSISTED_DOCUMENTS: z.string().min(1).optional(),
      /** Refuse every operation that is not a trusted document. */
      ONLY_PERSISTED_DOCUMENTS: z.stringbool().default(false),
      // Domain events for subscriptions and for invalidating the entity cache on every replica: NATS JetStream when set,
      // else the PostgreSQL event log; neither: no subscriptions, and only this replica's own mutations invalidate.
      ...eventEnvironment,
      // Open subscriptions per WebSocket and per tenant in one gateway process, by plan (TOO_MANY_REQUESTS beyond).
      SUBSCRIPTIONS_PER_CONNECTION_FREE: z.coerce.number().int().positive().default(perConnection.FREE),
      SUBSCRIPTIONS_PER_CONNECTION_PRO: z.coerce.number().int().positive().default(perConnection.PRO),
      SUBSCRIPTIONS_PER_CONNECTION_ENTERPRISE: z.coerce.number().int().positive().default(perConnection.ENTERPRISE),
      SUBSCRIPTIONS_PER_TENANT_FREE: z.coerce.number().int().positive().default(perTenant.FREE),
      SUBSCRIPTIONS_PER_TENANT_PRO: z.coerce.number().int().positive().default(perTenant.PRO),
      SUBSCRIPTIONS_PER_TENANT_ENTERPRISE: z.coerce.number().int().positive().default(perTenant.ENTERPRISE),
      /** A WebSocket ping this often; a socket silent until the next is dropped (0: none). */
      SUBSCRIPTION_KEEPALIVE_MS: z.coerce.number().int().nonnegative().default(DEFAULT_SUBSCRIPTION_LIMITS.keepAliveMs),
      /** Answers ready and unsent on one subscription, and bytes unread on one socket, before a slow client is dropped. */
      SUBSCRIPTION_MAX_QUEUED: z.coerce.number().int().positive().default(DEFAULT_SUBSCRIPTION_LIMITS.maxQueuedPerSubscription),
      SUBSCRIPTION_MAX_BUFFERED_BYTES: z.coerce.number().int().positive().default(DEFAULT_SUBSCRIPTION_LIMITS.maxBufferedBytes),
      ...Object.fromEntries(SUBGRAPHS.map((name) => [`SUBGRAPH_${name.toUpperCase()}_URL`, z.url().optional()])),
    })
    .refine((env) => !env.ONLY_PERSISTED_DOCUMENTS || env.PERSISTED_DOCUMENTS, {
      path: ['ONLY_PERSISTED_DOCUMENTS'],
      message: 'needs PERSISTED_DOCUMENTS, the manifest of the documents to accept',
    }),
);

function isOrigin(value: string): boolean {
  if (value === '*') return true;
  try {
    return new URL(value).origin === value;
  } catch {
    return false;
  }
}

/** The explorer is for development: off in production unless EXPLORER=true. */
export const explorerEnabled = environment.EXPLORER ?? environment.NODE_ENV !== 'production';

/** Routing URLs that replace the supergraph's, from `SUBGRAPH_<NAME>_URL`. */
export const subgraphUrls: Record<string, string> = Object.fromEntries(
  SUBGRAPHS.flatMap((name) => {
    const url = (environment as Record<string, unknown>)[`SUBGRAPH_${name.toUpperCase()}_URL`];
    return typeof url === 'string' ? [[name, url]] : [];
  }),
);

/** Token buckets by plan, from `RATE_LIMIT_*`. */
export const planLimits: PlanLimits = Object.fromEntries(
  (['FREE', 'PRO', 'ENTERPRISE'] as const).map((plan) => {
    const perSecond = environment[`RATE_LIMIT_${plan}_RPS`];
    return [plan, { perSecond, burst: Math.max(1, Math.floor(perSecond * environment.RATE_LIMIT_BURST_FACTOR)) }];
  }),
) as PlanLimits;

/** Cost budgets by plan, from `QUERY_BUDGET_*`. */
export const queryBudgets: QueryBudgets = {
  FREE: environment.QUERY_BUDGET_FREE,
  PRO: environment.QUERY_BUDGET_PRO,
  ENTERPRISE: environment.QUERY_BUDGET_ENTERPRISE,
};

/** Estimated cost per second by plan, from `COST_RATE_*`: a full bucket holds at least one operation at the plan's budget. */
export const costRates: PlanLimits = Object.fromEntries(
  (['FREE', 'PRO', 'ENTERPRISE'] as const).map((plan) => {
    const perSecond = environment[`COST_RATE_${plan}`];
    return [plan, { perSecond, burst: Math.max(queryBudgets[plan], Math.floor(perSecond * environment.RATE_LIMIT_BURST_FACTOR)) }];
  }),
) as PlanLimits;

/** Query limits from `QUERY_MAX_*`. */
export const queryLimits = {
  maxDepth: environment.QUERY_MAX_DEPTH,
  maxAliases: environment.QUERY_MAX_ALIASES,
  maxTokens: environment.QUERY_MAX_TOKENS,
  maxDirectives: environment.QUERY_MAX_DIRECTIVES,
};

/** Subscription caps and bounds from `SUBSCRIPTIONS_*` and `SUBSCRIPTION_*`. */
export const subscriptionLimits: SubscriptionLimits = {
  ...DEFAULT_SUBSCRIPTION_LIMITS,
  perConnection: Object.fromEntries(
    PLANS.map((plan) => [plan, environment[`SUBSCRIPTIONS_PER_CONNECTION_${plan}`]]),
  ) as SubscriptionLimits['perConnection'],
  perTenant: Object.fromEntries(
    PLANS.map((plan) => [plan, environment[`SUBSCRIPTIONS_PER_TENANT_${plan}`]]),
  ) as SubscriptionLimits['perTenant'],
  keepAliveMs: environment.SUBSCRIPTION_KEEPALIVE_MS,
  maxQueuedPerSubscription: environment.SUBSCRIPTION_MAX_QUEUED,
  maxBufferedBytes: environment.SUBSCRIPTION_MAX_BUFFERED_BYTES,
};
