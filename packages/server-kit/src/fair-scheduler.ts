import { appError, type TenantRecord, type TenantRegistry } from '@tenantgraph/core';

export type Plan = TenantRecord['plan'];

/** How many requests run at once in one process, and how they are shared between tenants. */
export type ConcurrencyLimits = {
  /** Requests executing at once over every tenant; beyond it requests wait for a turn. */
  maxInFlight: number;
  /** Requests one tenant may hold at once, running or waiting, by plan. */
  perTenant: Record<Plan, number>;
  /** Longest a request waits for a turn before it is refused. */
  maxWaitMs: number;
};

/**
 * Defaults of the gateway: a tenant on the free plan holds 4 requests, PRO 16, ENTERPRISE 32;
 * 64 run at once; nobody waits more than 2 s for a turn.
 */
export const DEFAULT_CONCURRENCY: ConcurrencyLimits = {
  maxInFlight: 64,
  perTenant: { FREE: 4, PRO: 16, ENTERPRISE: 32 },
  maxWaitMs: 2_000,
};

/**
 * Defaults of a subgraph: twice the gateway's, because one gateway request may send a subgraph
 * two fetches at once (the dashboard asks the order subgraph for `orders` and `unitsOrdered` in
 * parallel). A tenant the gateway admits is then never refused by a subgraph behind it.
 */
export const DEFAULT_SUBGRAPH_CONCURRENCY: ConcurrencyLimits = {
  maxInFlight: 128,
  perTenant: { FREE: 8, PRO: 32, ENTERPRISE: 64 },
  maxWaitMs: 2_000,
};

/** Gives the slot back; calling it again does nothing. */
export type Release = () => void;

export type FairScheduler = {
  /**
   * Waits for `key`'s turn and resolves with its release. Refuses at once with TOO_MANY_REQUESTS
   * (and `retryAfterSeconds`) when `key` already holds `limit` requests, and after `maxWaitMs`
   * when no turn came. `signal` (the client went away) takes a waiting request out of the queue.
   */
  acquire(key: string, limit: number, signal?: AbortSignal): Promise<Release>;
  /** Requests running and waiting now, in total and by key (metrics, tests). */
  stats(): { running: number; waiting: number; byKey: Record<string, { running: number; waiting: number }> };
};

type Waiter = { admit(): void; refuse(error: Error): void };
type Tenant = { running: number; queue: Waiter[] };

const tooManyRequests = (message: string, retryAfterSeconds: number) => appError('TOO_MANY_REQUESTS', message, { retryAfterSeconds });

/**
 * Per-tenant concurrency with fair share. While fewer than `maxInFlight` requests run, a request
 * starts at once; beyond that it waits in its tenant's queue, and the queues are served
 * round-robin: one request of each waiting tenant in turn, so a tenant with a thousand waiting
 * requests delays another tenant's next request by at most one turn, not a thousand.
 *
 * @example
 * const scheduler = createFairScheduler({ maxInFlight: 64, maxWaitMs: 2_000 });
 * const release = await scheduler.acquire(tenantId, limits.perTenant[plan]);
 * try { await work(); } finally { release(); }
 */
export function createFairScheduler({ maxInFlight, maxWaitMs }: Pick<ConcurrencyLimits, 'maxInFlight' | 'maxWaitMs'>): FairScheduler {
  const tenants = new Map<string, Tenant>();
  /** Keys with waiting requests, in turn order: a key served goes to the back. */
  const turns = new Set<string>();
  let running = 0;

  const tenantOf = (key: string) => {
    let tenant = tenants.get(key);
    if (!tenant) {
      tenant = { running: 0, queue: [] };
      tenants.set(key, tenant);
    }
    return tenant;
  };

  const forget = (key: string, tenant: Tenant) => {
    if (tenant.running === 0 && tenant.queue.length === 0) tenants.delete(key);
  };

  const start = (key: string, tenant: Tenant): Release => {
    running++;
    tenant.running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      running--;
      tenant.running--;
      forget(key, tenant);
      pump();
    };
  };

  const pump = () => {
    while (running < maxInFlight && turns.size > 0) {
      const key = turns.values().next().value as string;
      turns.delete(key);
      const tenant = tenants.get(key);
      const waiter = tenant?.queue.shift();
      if (!tenant || !waiter) continue;
      if (tenant.queue.length > 0) turns.add(key);
      waiter.admit();
    }
  };

  return {
    acquire(key, limit, signal) {
      if (signal?.aborted) return Promise.reject(new Error('the request was abandoned'));
      const tenant = tenantOf(key);
      if (tenant.running + tenant.queue.length >= limit) {
        return Promise.reject(tooManyRequests(`Too many concurrent requests for this tenant (at most ${limit}); retry later.`, 1));
      }
      if (running < maxInFlight && turns.size === 0) return Promise.resolve(start(key, tenant));
      return new Promise<Release>((resolve, reject) => {
        const leave = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          const index = tenant.queue.indexOf(waiter);
          if (index >= 0) tenant.queue.splice(index, 1);
          if (tenant.queue.length === 0) turns.delete(key);
        };
        const waiter: Waiter = {
          admit() {
            leave();
            resolve(start(key, tenant));
          },
          refuse(error) {
            leave();
            forget(key, tenant);
            reject(error);
          },
        };
        const onAbort = () => waiter.refuse(new Error('the request was abandoned'));
        const timer = setTimeout(
          () => waiter.refuse(tooManyRequests('The service is busy; retry later.', Math.max(1, Math.ceil(maxWaitMs / 1000)))),
          maxWaitMs,
        );
        signal?.addEventListener('abort', onAbort, { once: true });
        tenant.queue.push(waiter);
        turns.add(key);
      });
    },
    stats() {
      const byKey: Record<string, { running: number; waiting: number }> = {};
      let waiting = 0;
      for (const [key, tenant] of tenants) {
        byKey[key] = { running: tenant.running, waiting: tenant.queue.length };
        waiting += tenant.queue.length;
      }
      return { running, waiting, byKey };
    },
  };
}

/** Fair share of one process's requests between tenants, each held to its plan's limit. */
export type Admission = {
  /** Waits for the tenant's turn; see `FairScheduler.acquire`. */
  admit(tenantId: string, signal?: AbortSignal): Promise<Release>;
  scheduler: FairScheduler;
};

/**
 * The admission of a gateway or subgraph: a fair scheduler over `limits`, each tenant's limit
 * found by its plan in the registry (an unknown tenant gets the smallest, and is refused
 * elsewhere anyway).
 * @example createGraphQLHttpServer({ ..., admit: (context, signal) => admission.admit(context.tenantId, signal) })
 */
export function tenantAdmission(limits: ConcurrencyLimits, registry: TenantRegistry): Admission {
  const scheduler = createFairScheduler(limits);
  const smallest = Math.min(...Object.values(limits.perTenant));
  return {
    scheduler,
    async admit(tenantId, signal) {
      const tenant = await registry.get(tenantId);
      return scheduler.acquire(tenantId, tenant ? limits.perTenant[tenant.plan] : smallest, signal);
    },
  };
}
