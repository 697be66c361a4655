import type { IncomingMessage } from 'node:http';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { TokenVerifier } from '@tenantgraph/auth';
import { accessPolicyOf, type Logger, requireSameTenant, type Viewer } from '@tenantgraph/core';
import { type DatabaseRouter, type Deadline, pastDeadline } from '@tenantgraph/database';
import { tracingEnabled, withSpan } from '@tenantgraph/telemetry';
import { type DocumentNode, GraphQLError, GraphQLScalarType, type GraphQLSchema, Kind, type ValidationRule } from 'graphql';
import { checkAccess } from './access.ts';
import { checkCost, listSizesOf } from './cost.ts';
import { logUnexpected, maskError } from './errors.ts';
import { createExecutor } from './executor.ts';
import type { Admission } from './fair-scheduler.ts';
import { closeGracefully, createGraphQLHttpServer, listen, type Route, sendJson } from './http.ts';
import type { Metrics } from './metrics.ts';
import { noteTenant, type RequestRecord } from './observe.ts';
import type { ResolverMap } from './resolvers.ts';

/** The resolvers `buildSubgraphSchema` takes, named through its public signature. */
type SubgraphResolvers = NonNullable<Extract<Parameters<typeof buildSubgraphSchema>[0], { typeDefs: DocumentNode }>['resolvers']>;

/** What every subgraph resolver can rely on: a verified viewer and its tenant. */
export type SubgraphContext = {
  viewer: Viewer;
  /** Always `viewer.tenantId`: the tenant comes from the verified token and nowhere else. */
  tenantId: string;
  requestId: string;
  /** What the metrics and the access line say of this request (its operation, its outcome). */
  record: RequestRecord;
  logger: Logger;
  /** When this request must be done; past it (or once the caller has gone) no more SQL is sent (see `dataContext`). */
  deadline: Deadline;
  /**
   * What a mutation says it changed, for the gateway's entity cache (see `noteChanged`), and
   * whether the operation has one root field (what a field of several says is not sent).
   */
  changes: { entityTypes?: Set<string>; oneField?: boolean };
};

/**
 * Says which entity types' answers this request's mutation may have changed, for the gateway's
 * entity cache: it then drops, for this tenant and this subgraph, the answers about these types
 * and every root field's, and keeps its other entity answers (a new product leaves every product
 * already shown as it was). A mutation that notes nothing drops all of the subgraph's answers of
 * the tenant, and so does one the gateway sent with other fields in the same request. Name every type whose fields, in this subgraph, show what changed (lists and counts
 * on the tenant included): an omission shows a stale answer.
 * @example noteChanged(context, 'Tenant') // createProduct: the tenant's product list and count changed, no existing product
 */
export function noteChanged(context: SubgraphContext, ...entityTypes: string[]): void {
  context.changes.entityTypes ??= new Set();
  for (const type of entityTypes) context.changes.entityTypes.add(type);
}

/**
 * What one request may cost a subgraph, whoever sends it (zero trust: the gateway checks the
 * same, but a subgraph does not rely on it).
 */
export type SubgraphLimits = {
  /** Field nesting, fragments flattened (the gateway's QUERY_MAX_DEPTH). */
  maxDepth: number;
  /** Estimated cost (see `estimateCost`), `_entities` counting its representations: the gateway's largest plan budget. */
  maxCost: number;
  /** Work stops this long after the request arrived: no SQL starts, no resolver runs. */
  deadlineMs: number;
  /** A larger answer is replaced by a QUERY_TOO_EXPENSIVE error. */
  maxResponseBytes: number;
};

export const DEFAULT_SUBGRAPH_LIMITS: SubgraphLimits = {
  maxDepth: 10,
  maxCost: 50_000,
  deadlineMs: 5_000,
  maxResponseBytes: 8 * 1024 * 1024,
};

export type SubgraphServerOptions<C extends SubgraphContext> = {
  name: string;
  typeDefs: DocumentNode;
  /** One map for the room, from `mergeResolvers`. */
  resolvers: ResolverMap;
  verifier: TokenVerifier;
  logger: Logger;
  metrics: Metrics;
  /** Adds the service's data access to the base context; throws UNKNOWN_TENANT for an unknown tenant. */
  createContext(base: SubgraphContext, req: IncomingMessage): Promise<C>;
  /** Readiness: the database answers and its migrations are applied. Throws when not ready. */
  ready(): Promise<void>;
  /** Extra routes, e.g. the tenant registry. */
  routes?: Record<string, Route>;
  /** Closes what the service opened (database pools). */
  onStop?(): Promise<void>;
  /** Depth, cost, deadline and answer size of one request; DEFAULT_SUBGRAPH_LIMITS otherwise. */
  limits?: Partial<SubgraphLimits> | undefined;
  /** Per-tenant concurrency and fair share (see `tenantAdmission`); none when absent. */
  admission?: Admission;
};

/** What a data subgraph's server is built from: its tenant-routed databases and the platform parts. */
export type DataSubgraphDeps<DB> = {
  databases: DatabaseRouter<DB>;
  verifier: TokenVerifier;
  logger: Logger;
  metrics: Metrics;
  /** Readiness: throws while the shared database is unreachable or behind on migrations. */
  ready(): Promise<void>;
  limits?: Partial<SubgraphLimits> | undefined;
  /** Per-tenant concurrency and fair share; none when absent. */
  admission?: Admission;
};

export type SubgraphServer = {
  /** Listens on `port` (0 for any free one) and resolves with the bound port. */
  start(port: number, host?: string): Promise<number>;
  /** Drains in-flight requests, then closes the server and the service's resources. */
  stop(): Promise<void>;
};

/**
 * A federation subgraph over `node:http`. Every GraphQL request needs a valid bearer token:
 * without one the answer is 401 before the body is read. `/health` is liveness, `/ready`
 * readiness; metrics are served apart (`createMetricsServer`), never on this port.
 */
export function createSubgraphServer<C extends SubgraphContext>(options: SubgraphServerOptions<C>): SubgraphServer {
  const { name, logger, metrics } = options;
  const limits = { ...DEFAULT_SUBGRAPH_LIMITS, ...options.limits };
  const listSizes = listSizesOf(options.typeDefs);
  // Zero trust: the subgraph enforces its own SDL's @authenticated / @requiresScopes, whoever calls it.
  const policy = accessPolicyOf(options.typeDefs);
  const schema = buildSubgraphSchema({
    typeDefs: options.typeDefs,
    resolvers: stopAtDeadline(tracingEnabled() ? traceRootResolvers(options.resolvers) : options.resolvers) as SubgraphResolvers,
  });
  if (tracingEnabled()) traceEntityFetches(schema);
  // Only the gateway calls a subgraph, with a few documents it sends again and again: each is
  // parsed and validated once, and a request costs its checks and its execution (`createExecutor`).
  const execute = createExecutor<C>({
    schema,
    // Composition reads the SDL files and the gateway runs on a static supergraph: nobody needs
    // a subgraph to describe itself, so neither introspection (refused by the executor) nor `_service` is served.
    validationRules: [noServiceSdl],
    checks: [
      (operation, context) => checkAccess(operation, policy, context.viewer),
      (operation) => void checkCost({ ...operation, listSizes }, { maxDepth: limits.maxDepth, budget: limits.maxCost }),
    ],
    formatError: maskError,
    onErrors: (errors, context) => logUnexpected(logger, errors, context.requestId),
    onOperation: (operation, operationName, context) => {
      metrics.noteOperation(context.record, operation.operation, operationName);
      // Of a mutation of several fields, one that noted nothing would go unseen beside one that did:
      // only a mutation of one field says what it changed; the gateway drops all of the others'.
      const [first, ...rest] = operation.selectionSet.selections;
      context.changes.oneField = first?.kind === Kind.FIELD && rest.length === 0;
    },
    onAnswer: (code, context) => metrics.noteAnswer(context.record, code),
    extensions: ({ changes }) =>
      changes.entityTypes && changes.oneField ? { entityCache: { changed: [...changes.entityTypes] } } : undefined,
  });
  const http = createGraphQLHttpServer<C>({
    execute,
    logger,
    async authenticate(req, record, closed) {
      const viewer = await options.verifier.verify(req.headers.authorization);
      noteTenant(record, viewer.tenantId);
      const { requestId } = record;
      const requestLogger = logger.child({ requestId, tenant: viewer.tenantId });
      const base: SubgraphContext = {
        viewer,
        tenantId: viewer.tenantId,
        requestId,
        record,
        logger: requestLogger,
        // `closed` is aborted at the deadline too (`deadlineMs` below): the caller leaving (the
        // gateway gave up) ends the work as surely as the deadline does.
        deadline: { at: Date.now() + limits.deadlineMs, signal: closed },
        changes: {},
      };
      return options.createContext(base, req);
    },
    deadlineMs: limits.deadlineMs,
    onFinish: metrics.observeRequest,
    maxResponseBytes: limits.maxResponseBytes,
    admit: options.admission && ((context, signal) => options.admission!.admit(context.tenantId, signal)),
    routes: {
      'GET /health': (_req, res) => sendJson(res, 200, { status: 'ok', service: name }),
      'GET /ready': async (_req, res) => {
        try {
          await options.ready();
          sendJson(res, 200, { status: 'ready', service: name });
        } catch (error) {
          logger.warn('not ready', { error });
          sendJson(res, 503, { status: 'not ready', service: name });
        }
      },
      ...options.routes,
    },
  });

  return {
    async start(port, host) {
      const bound = await listen(http, port, host);
      logger.info('listening', { port: bound });
      return bound;
    },
    async stop() {
      await closeGracefully(http);
      await options.onStop?.();
    },
  };
}

/**
 * The service's resolvers, each first checking its request's deadline: once it has passed (or
 * the caller has gone) no resolver starts, so a query that outgrew its time stops resolving
 * rather than running on for a client that no longer waits. Scalars and enum maps are unchanged.
 */
function stopAtDeadline<C extends SubgraphContext>(resolvers: ResolverMap): ResolverMap {
  const stopIfLate = (context: C) => {
    if (context.deadline.signal.aborted) throw pastDeadline();
  };
  type Resolver = (...args: unknown[]) => unknown;
  return Object.fromEntries(
    Object.entries(resolvers).map(([typeName, fields]) => {
      if (fields instanceof GraphQLScalarType || typeof fields !== 'object' || fields === null) return [typeName, fields];
      const guarded = Object.entries(fields).map(([field, resolve]) => {
        if (typeof resolve !== 'function') return [field, resolve];
        const run = resolve as Resolver;
        // `__resolveReference(reference, context, info)` takes the context second; fields, third.
        const at = field === '__resolveReference' ? 1 : 2;
        return [
          field,
          (...args: unknown[]) => {
            stopIfLate(args[at] as C);
            return run(...args);
          },
        ];
      });
      return [typeName, Object.fromEntries(guarded)];
    }),
  ) as ResolverMap;
}

/** Root fields, the resolvers that reach the data, each in a span of its own (`Query.products`). */
function traceRootResolvers(resolvers: ResolverMap): ResolverMap {
  type Resolver = (...args: unknown[]) => unknown;
  const roots = new Set(['Query', 'Mutation', 'Subscription']);
  return Object.fromEntries(
    Object.entries(resolvers).map(([typeName, fields]) => {
      if (!roots.has(typeName) || typeof fields !== 'object' || fields === null) return [typeName, fields];
      const traced = Object.entries(fields).map(([field, resolve]) => {
        if (typeof resolve !== 'function') return [field, resolve];
        const name = `${typeName}.${field}`;
        return [field, (...args: unknown[]) => withSpan(name, { 'graphql.field.path': name }, () => (resolve as Resolver)(...args))];
      });
      return [typeName, Object.fromEntries(traced)];
    }),
  ) as ResolverMap;
}

/**
 * One span per entity fetch (`Query._entities`), however many representations it carries: each
 * entity's lookup is a loader call, and the loaders' batched SQL spans sit below it. (A span per
 * `__resolveReference` made a hundred identical spans for one fetch of a hundred entities.)
 */
function traceEntityFetches(schema: GraphQLSchema): void {
  const field = schema.getQueryType()?.getFields()._entities;
  const resolve = field?.resolve;
  if (!field || !resolve) return;
  field.resolve = (...args) =>
    withSpan('Query._entities', { 'graphql.field.path': 'Query._entities' }, (span) => {
      const entities = resolve(...args);
      // In a sampled trace the span lasts until every lookup has settled; the answer is the same list.
      if (!span) return entities;
      return Promise.resolve(entities).then(async (list) => {
        await Promise.allSettled(list as unknown[]);
        return list;
      });
    });
}

/**
 * Refuses `_service` (the subgraph's SDL, with every type and directive): composition is from
 * the committed schema files only, so no caller, the gateway included, ever needs it.
 */
export const noServiceSdl: ValidationRule = (context) => ({
  Field(node) {
    if (node.name.value === '_service') {
      context.reportError(new GraphQLError('Cannot query field "_service": composition is from schema files.', { nodes: [node] }));
    }
  },
});

/**
 * `Tenant` as every subgraph resolves it by key: only the caller's own tenant, any other is
 * FORBIDDEN, and no row is read to decide.
 */
export const tenantEntityResolvers = {
  __resolveReference(reference: { id: string }, context: SubgraphContext) {
    requireSameTenant(context.viewer, reference.id);
    return { id: reference.id };
  },
};

/** `DateTime`: an ISO-8601 timestamp with time zone. */
export const DateTime = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  description: 'An ISO-8601 timestamp, e.g. 2026-11-22T10:00:00.000Z',
  serialize(value) {
    const date = value instanceof Date ? value : new Date(value as string);
    if (Number.isNaN(date.getTime())) throw new TypeError('DateTime cannot represent an invalid date');
    return date.toISOString();
  },
  parseValue(value) {
    const date = new Date(value as string);
    if (typeof value !== 'string' || Number.isNaN(date.getTime())) throw new TypeError('DateTime must be an ISO-8601 string');
    return date;
  },
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw new TypeError('DateTime must be an ISO-8601 string');
    const date = new Date(ast.value);
    if (Number.isNaN(date.getTime())) throw new TypeError('DateTime must be an ISO-8601 string');
    return date;
  },
});
