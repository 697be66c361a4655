import { ApolloGateway, type SupergraphSdlHook } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { TokenVerifier } from '@tenantgraph/auth';
import { appError, type Logger, type TenantRegistry, unknownTenant } from '@tenantgraph/core';
import {
  type Admission,
  accessControl,
  apolloExecutor,
  closeGracefully,
  createGraphQLHttpServer,
  createMetrics,
  DEFAULT_CONCURRENCY,
  listen,
  logUnexpectedErrors,
  type Metrics,
  maskError,
  noteTenant,
  type RequestRecord,
  sendJson,
  tenantAdmission,
} from '@tenantgraph/server-kit';
import { withAccessPolicy } from './access-policy.ts';
import { budgetPlugin, DEFAULT_COST_RATES, DEFAULT_QUERY_BUDGETS, overBudgetPenalty, type QueryBudgets } from './budget.ts';
import type { GatewayContext } from './context.ts';
import { cors } from './cors.ts';
import { TenantDataSource } from './datasource.ts';
import { type EntityCache, invalidateOnMutation } from './entity-cache.ts';
import { createExplorer } from './explorer.ts';
import { createSubgraphFetcher, observedFetcher } from './fetcher.ts';
import { DEFAULT_QUERY_LIMITS, type QueryLimits, queryLimits } from './limits.ts';
import { DEFAULT_PLAN_LIMITS, memoryRateLimiter, type PlanLimits, type RateLimiter } from './rate-limit.ts';
import type { TenantEventSource } from './subscriptions/events.ts';
import { DEFAULT_SUBSCRIPTION_LIMITS, type SubscriptionLimits } from './subscriptions/limits.ts';
import { createSubscriptionServer } from './subscriptions/websocket.ts';
import { type TrustedDocuments, trustedDocumentsStep } from './trusted-documents.ts';
import { wholeAnswers } from './whole-answers.ts';

export { supergraphForGateway, withAccessPolicy } from './access-policy.ts';
export { DEFAULT_COST_RATES, DEFAULT_QUERY_BUDGETS, type QueryBudgets } from './budget.ts';
export { createEntityCache, type EntityCache, invalidateOnEvents } from './entity-cache.ts';
export { DEFAULT_QUERY_LIMITS, type QueryLimits } from './limits.ts';
export { DEFAULT_PLAN_LIMITS, memoryRateLimiter, type PlanLimits, type RateLimiter, redisRateLimiter } from './rate-limit.ts';
export type { TenantEvent, TenantEventSource } from './subscriptions/events.ts';
export { DEFAULT_SUBSCRIPTION_LIMITS, type SubscriptionLimits } from './subscriptions/limits.ts';
export { staticSupergraph, supergraphFromFile } from './supergraph.ts';
export { loadTrustedDocuments, parseTrustedDocuments, type TrustedDocuments } from './trusted-documents.ts';

/** The subgraphs fed by domain events (see `uncachedSubgraphs`). */
const DEFAULT_UNCACHED_SUBGRAPHS = ['analytics'];

export type GatewayServerDeps = {
  supergraph: SupergraphSdlHook;
  verifier: TokenVerifier;
  registry: TenantRegistry;
  logger: Logger;
  /** Routing URLs by subgraph name, replacing those in the supergraph (containers, tests). */
  subgraphUrls?: Record<string, string>;
  subgraphTimeoutMs?: number;
  maxSocketsPerSubgraph?: number;
  /** Production hides introspection and schema hints from clients. */
  production?: boolean;
  /** Bounds on each operation (depth, aliases, tokens, directives, cost); defaults otherwise. */
  limits?: Partial<QueryLimits>;
  /** The most one operation may cost, by plan (QUERY_TOO_EXPENSIVE beyond); defaults otherwise. */
  queryBudgets?: Partial<QueryBudgets>;
  /** Per-tenant token buckets (in memory unless given, e.g. the Redis one; closed by `stop`) ... */
  rateLimiter?: RateLimiter;
  /** ... and their sizes by plan: requests ... */
  planLimits?: Partial<PlanLimits>;
  /** ... and estimated cost per second (`DEFAULT_COST_RATES` otherwise). */
  costRates?: Partial<PlanLimits>;
  /** Requests in flight per tenant by plan, and fair share between tenants (`tenantAdmission`); the defaults otherwise. */
  admission?: Admission;
  /** Estimated cost per concurrency slot (`COST_PER_SLOT` unless given). */
  costPerSlot?: number;
  /** Request, rejection and subgraph fetch metrics, served on the metrics listener (never on this port); a registry of its own otherwise. */
  metrics?: Metrics;
  /** Serve the explorer (GraphiQL) to browsers at GET /graphql; off unless set. */
  explorer?: boolean;
  /** Origins allowed to call the API from a browser (CORS): exact, or `*`. None unless set. */
  corsOrigins?: readonly string[];
  /** The frontends' trusted documents; with `only`, nothing else is accepted. */
  trustedDocuments?: { documents: TrustedDocuments; only: boolean };
  /** Domain events of every tenant: with them, subscriptions are served over WebSocket on the same path (closed by `stop`). */
  events?: TenantEventSource;
  /** Caps on open subscriptions by plan, keep-alive, slow clients; defaults otherwise. */
  subscriptionLimits?: Partial<SubscriptionLimits>;
  /** Subgraph answers cached by tenant (`createEntityCache`); nothing cached when absent. */
  entityCache?: EntityCache;
  /**
   * Subgraphs whose answers are never cached: those that change after a domain event rather than
   * with the mutation that caused it (analytics counts events as they arrive; a read between the
   * event and its count would otherwise keep the old count). `DEFAULT_UNCACHED_SUBGRAPHS` unless given.
   */
  uncachedSubgraphs?: readonly string[];
};

/**
 * The gateway: one endpoint for every frontend. It verifies the token and the tenant before
 * any subgraph is called (401 / 403), plans the query over the supergraph and sends each
 * subgraph the caller's token, tenant and request id.
 */
export function createGatewayServer(deps: GatewayServerDeps) {
  const { logger, subgraphUrls = {}, production = false } = deps;
  const limits = queryLimits({ ...DEFAULT_QUERY_LIMITS, ...deps.limits }, { hideSuggestions: production });
  const rateLimiter = deps.rateLimiter ?? memoryRateLimiter();
  const planLimits = { ...DEFAULT_PLAN_LIMITS, ...deps.planLimits };
  const admission = deps.admission ?? tenantAdmission(DEFAULT_CONCURRENCY, deps.registry);
  const metrics = deps.metrics ?? createMetrics('gateway');
  const entityCache = deps.entityCache;
  const uncachedSubgraphs = new Set(deps.uncachedSubgraphs ?? DEFAULT_UNCACHED_SUBGRAPHS);
  const fetcher = createSubgraphFetcher({
    maxSockets: deps.maxSocketsPerSubgraph ?? 64,
    timeoutMs: deps.subgraphTimeoutMs ?? 5_000,
    logger,
  });
  // @apollo/gateway exports anonymous usage data unless this is set; it stays off unless an
  // operator sets the variable themselves.
  // biome-ignore lint/style/noProcessEnv: a write for @apollo/gateway to read, not a setting of ours
  process.env.APOLLO_TELEMETRY_DISABLED ??= 'true';
  // Every supergraph (the first, each reload) is made loadable and its access policy read.
  const access = withAccessPolicy(deps.supergraph);
  const gateway = new ApolloGateway({
    supergraphSdl: access.hook,
    buildService: ({ name, url }) => {
      const source = new TenantDataSource({ url: subgraphUrls[name] ?? url, fetcher: observedFetcher(fetcher, name, metrics) });
      if (entityCache && !uncachedSubgraphs.has(name)) source.cache = { cache: entityCache, subgraph: name };
      return source;
    },
    logger: {
      debug: () => {},
      info: (m) => logger.info(String(m)),
      warn: (m) => logger.warn(String(m)),
      error: (m) => logger.error(String(m)),
    },
  });
  const whole = entityCache && wholeAnswers(entityCache, gateway, metrics);
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    formatError: maskError,
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
    introspection: !production,
    hideSchemaDetailsFromClientErrors: production,
    // One operation per request: a JSON array would multiply every limit below by its length.
    allowBatchedHttpRequests: false,
    validationRules: limits.validationRules,
    parseOptions: limits.parseOptions,
    // No cache hints: the answer is sent `private, no-store` whatever the subgraphs say.
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginCacheControlDisabled(),
      logUnexpectedErrors(logger),
      // @authenticated / @requiresScopes of the supergraph, before any planning.
      accessControl(access.policy),
      ...limits.plugins,
      // Admission is here, once the cost is known: a request spends its cost of the tenant's cost per
      // second and holds slots by its cost; one refused by a rate limit or the budget never waits for a turn.
      budgetPlugin(gateway, {
        budgets: { ...DEFAULT_QUERY_BUDGETS, ...deps.queryBudgets },
        admission,
        costPerSlot: deps.costPerSlot,
        costRates: { ...DEFAULT_COST_RATES, ...deps.costRates },
        limiter: rateLimiter,
      }),
      overBudgetPenalty(rateLimiter, planLimits),
      metrics.plugin,
      ...(entityCache && whole ? [invalidateOnMutation(entityCache), whole.plugin] : []),
    ],
  });
  // Ready once the supergraph is loaded, and no longer once stopping, so a load balancer stops
  // sending before the server closes.
  let ready = false;
  const allowCors = cors(deps.corsOrigins ?? []);
  const explorer = deps.explorer ? createExplorer() : undefined;
  const takeRequest = async ({ viewer, plan }: Pick<GatewayContext, 'viewer' | 'plan'>) => {
    const { allowed, retryAfterSeconds } = await rateLimiter.take(viewer.tenantId, planLimits[plan] ?? planLimits.FREE);
    if (!allowed) throw appError('TOO_MANY_REQUESTS', 'Too many requests for this tenant; retry later.', { retryAfterSeconds });
  };
  /**
   * The same for HTTP requests and WebSocket connections: the verified viewer, its tenant, one
   * request of its rate limit. An HTTP request's context also gets its entity-cache scope (see `http`).
   */
  const authenticateTenant = async (authorization: string | undefined, requestId: string, record?: RequestRecord) => {
    const viewer = await deps.verifier.verify(authorization);
    const tenant = await deps.registry.get(viewer.tenantId);
    if (!tenant) {
      // A deleted tenant's entries go (an id registered again later starts from nothing).
      if (entityCache) await entityCache.invalidate(viewer.tenantId).catch(() => {});
      throw unknownTenant();
    }
    if (record) noteTenant(record, tenant.id);
    await takeRequest({ viewer, plan: tenant.plan });
    const context: GatewayContext = {
      viewer,
      requestId,
      record,
      plan: tenant.plan,
      logger: logger.child({ requestId, tenant: viewer.tenantId }),
    };
    return { context, tenant };
  };
  // A subscription's lookups run right after a change, for as long as the socket lives: never from the cache.
  const authenticate = async (authorization: string | undefined, requestId: string) =>
    (await authenticateTenant(authorization, requestId)).context;
  const http = createGraphQLHttpServer<GatewayContext>({
    execute: whole ? whole.executor(apolloExecutor(apollo)) : apolloExecutor(apollo),
    logger,
    async authenticate(req, record, closed) {
      const { context, tenant } = await authenticateTenant(req.headers.authorization, record.requestId, record);
      // A tenant holding all its slots is refused here, before its body is read and parsed: refusing stays cheap.
      await admission.refuseIfFull(tenant.id);
      context.closed = closed;
      // Only an active tenant's answers are cached: a moving or deleting tenant's are read fresh.
      if (entityCache && tenant.status === 'active')
        context.cacheScope = await entityCache.scope(tenant.id, tenant.placement, context.viewer);
      return context;
    },
    onFinish: metrics.observeRequest,
    // Every answer is one tenant's data: no shared cache may keep it.
    responseHeaders: { 'cache-control': 'private, no-store' },
    // Preflights and the explorer's page are answered before authentication: neither carries a token.
    intercept: (req, res) => allowCors(req, res) || (explorer?.page(req, res) ?? false),
    ...(deps.trustedDocuments ? { prepare: trustedDocumentsStep(deps.trustedDocuments.documents, deps.trustedDocuments.only) } : {}),
    routes: {
      ...explorer?.routes,
      'GET /health': (_req, res) => sendJson(res, 200, { status: 'ok', service: 'gateway' }),
      'GET /ready': (_req, res) => sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', service: 'gateway' }),
    },
  });

  const subscriptions =
    deps.events &&
    createSubscriptionServer({
      http,
      gateway,
      apollo,
      events: deps.events,
      authenticate,
      takeRequest,
      metrics,
      validationRules: limits.validationRules,
      maxTokens: limits.parseOptions.maxTokens,
      budgets: { ...DEFAULT_QUERY_BUDGETS, ...deps.queryBudgets },
      limits: { ...DEFAULT_SUBSCRIPTION_LIMITS, ...deps.subscriptionLimits },
      logger,
    });
  if (subscriptions) metrics.watchSubscriptions(() => subscriptions.stats());

  return {
    async start(port: number, host?: string) {
      await apollo.start();
      ready = true;
      const bound = await listen(http, port, host);
      logger.info('listening', { port: bound });
      return bound;
    },
    async stop() {
      ready = false;
      // Sockets first: the HTTP server's close waits for every connection, upgraded ones included.
      await subscriptions?.close();
      await closeGracefully(http);
      await apollo.stop();
      await rateLimiter.close();
      await entityCache?.close();
    },
    /** Subscriptions open in this process, of one tenant or of all. */
    openSubscriptions: (tenantId?: string) => subscriptions?.stats(tenantId) ?? 0,
  };
}
