import { z } from 'zod';
import { type ConcurrencyLimits, DEFAULT_SUBGRAPH_CONCURRENCY } from './fair-scheduler.ts';
import { DEFAULT_METRICS_MAX_TENANTS } from './metrics.ts';
import { placeholderProblems } from './placeholders.ts';
import { DEFAULT_SUBGRAPH_LIMITS, type SubgraphLimits } from './subgraph.ts';

/**
 * Per-tenant concurrency of one process (gateway or subgraph), read by both with their own
 * defaults: requests running at once, requests one tenant may hold by plan, the longest wait.
 * @example loadEnvironment(z.object({ ...concurrencyEnvironment(DEFAULT_CONCURRENCY) }))
 */
export const concurrencyEnvironment = (defaults: ConcurrencyLimits) => ({
  CONCURRENCY_MAX_IN_FLIGHT: z.coerce.number().int().positive().default(defaults.maxInFlight),
  CONCURRENCY_FREE: z.coerce.number().int().positive().default(defaults.perTenant.FREE),
  CONCURRENCY_PRO: z.coerce.number().int().positive().default(defaults.perTenant.PRO),
  CONCURRENCY_ENTERPRISE: z.coerce.number().int().positive().default(defaults.perTenant.ENTERPRISE),
  CONCURRENCY_MAX_WAIT_MS: z.coerce.number().int().positive().default(defaults.maxWaitMs),
});

type ConcurrencyEnvironment = { [K in keyof ReturnType<typeof concurrencyEnvironment>]: number };

/** The limits named by `concurrencyEnvironment`'s variables. */
export function concurrencyLimits(env: ConcurrencyEnvironment): ConcurrencyLimits {
  return {
    maxInFlight: env.CONCURRENCY_MAX_IN_FLIGHT,
    perTenant: { FREE: env.CONCURRENCY_FREE, PRO: env.CONCURRENCY_PRO, ENTERPRISE: env.CONCURRENCY_ENTERPRISE },
    maxWaitMs: env.CONCURRENCY_MAX_WAIT_MS,
  };
}

/** The settings of every long-running service, the gateway included. */
export const processEnvironment = {
  /** The floor of the JSON log on stderr. */
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  /** Tenants with series of their own in the metrics (the busiest); the rest share `other`. */
  METRICS_MAX_TENANTS: z.coerce.number().int().positive().default(DEFAULT_METRICS_MAX_TENANTS),
  /** `pnpm start` sets it: the service stops when its parent (holding its stdin) goes away. */
  STOP_WITH_PARENT: z.stringbool().default(false),
};

/**
 * Token verification settings, the same for the gateway and every subgraph (spread into a schema).
 * `AUTH_JWKS_MAX_AGE`: seconds the fetched keys are trusted before a refetch; `AUTH_TOKEN_TYPE`:
 * the `typ` header every token must carry (e.g. `at+jwt`), any when unset.
 */
export const authEnvironment = {
  AUTH_JWKS_URL: z.url(),
  AUTH_ISSUER: z.string().min(1),
  AUTH_AUDIENCE: z.string().min(1),
  AUTH_JWKS_MAX_AGE: z.coerce.number().int().positive().default(300),
  AUTH_TOKEN_TYPE: z.string().min(1).optional(),
};

/**
 * Where domain events go: NATS JetStream when `NATS_URL` is set, else the PostgreSQL transport's
 * events database (`EVENTS_DATABASE_URL`); with neither, events wait in the outbox.
 */
export const eventEnvironment = {
  NATS_URL: z.url({ protocol: /^(nats|tls)$/ }).optional(),
  EVENTS_DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
};

/**
 * The settings every subgraph reads. A service extends this object with its own.
 * Defaults are the local ones of `pnpm start`; containers set every URL.
 */
export const subgraphEnvironment = z.object({
  ...processEnvironment,
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().default('0.0.0.0'),
  /** The metrics listener's address; its port (`METRICS_PORT`) is each service's own. */
  METRICS_HOST: z.string().default('127.0.0.1'),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }),
  ...authEnvironment,
  TENANT_REGISTRY_URL: z.url().default('http://127.0.0.1:4001/internal/tenants'),
  REGISTRY_TOKEN: z.string().min(16),
  /** Seconds the last tenant list keeps serving while the registry cannot be reached; then 503. */
  REGISTRY_MAX_STALE: z.coerce.number().positive().default(60),
  /** Connections per database pool, and over all pools of the service. */
  DB_POOL_SIZE: z.coerce.number().int().positive().default(5),
  DB_MAX_CONNECTIONS: z.coerce.number().int().positive().default(40),
  DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  /** Containers: migrate the shared database at start (`pnpm start` migrates on its own). */
  MIGRATE_ON_START: z.stringbool().default(false),
  /** Who runs those migrations, when not the service's own `DATABASE_URL` role (e.g. a schema owner). */
  MIGRATION_DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  // What one request may cost this service, whoever sends it (see SubgraphLimits).
  QUERY_MAX_DEPTH: z.coerce.number().int().positive().default(DEFAULT_SUBGRAPH_LIMITS.maxDepth),
  QUERY_BUDGET: z.coerce.number().int().positive().default(DEFAULT_SUBGRAPH_LIMITS.maxCost),
  REQUEST_DEADLINE_MS: z.coerce.number().int().positive().default(DEFAULT_SUBGRAPH_LIMITS.deadlineMs),
  RESPONSE_MAX_BYTES: z.coerce.number().int().positive().default(DEFAULT_SUBGRAPH_LIMITS.maxResponseBytes),
  ...concurrencyEnvironment(DEFAULT_SUBGRAPH_CONCURRENCY),
  ...eventEnvironment,
  /** Seconds a published event stays in the service's outbox before the relay deletes it (the transport keeps it for replay). */
  OUTBOX_RETAIN_SENT_S: z.coerce.number().int().nonnegative().default(3_600),
});

/** A subgraph's request limits from `QUERY_MAX_DEPTH`, `QUERY_BUDGET`, `REQUEST_DEADLINE_MS`, `RESPONSE_MAX_BYTES`. */
export function subgraphLimits(env: z.infer<typeof subgraphEnvironment>): SubgraphLimits {
  return {
    maxDepth: env.QUERY_MAX_DEPTH,
    maxCost: env.QUERY_BUDGET,
    deadlineMs: env.REQUEST_DEADLINE_MS,
    maxResponseBytes: env.RESPONSE_MAX_BYTES,
  };
}

/**
 * Parses `env` with `schema`; on any problem prints every one of them at once and exits 1. In
 * production a documented placeholder secret is a problem too (`placeholderProblems`).
 * @example export const environment = loadEnvironment(subgraphEnvironment.extend({ PORT: port(4002) }))
 */
export function loadEnvironment<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const result = schema.safeParse(env);
  // Placeholder secrets are looked for in the raw variables, so they are reported with the rest.
  const problems = [
    ...(result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)),
    ...placeholderProblems(env),
  ];
  if (result.success && problems.length === 0) return result.data;
  console.error(`Invalid environment:\n${problems.map((problem) => `  ${problem}`).join('\n')}`);
  process.exit(1);
}

/** A port with a default. */
export const port = (fallback: number) => z.coerce.number().int().min(0).max(65_535).default(fallback);
