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

/** Gives the slots back; calling it again does nothing. */
export type Release = () => void;

export type FairScheduler = {
  /**
   * Waits for `key`'s turn and resolves with its release. A request takes `weight` slots (1 unless
   * given; an expensive one more), of `key`'s `limit` and of the process's `maxInFlight`, clamped
   * to both so that one request can always run. Refuses at once with TOO_MANY_REQUESTS (and
   * `retryAfterSeconds`) when `key` would hold more than `limit` slots, running or waiting, and
   * after `maxWaitMs` when no turn came. `signal` (the client went away) takes a waiting request
   * out of the queue.
   */
  acquire(key: string, limit: number, signal?: AbortSignal, weight?: number): Promise<Release>;
  /** Slots `key` holds now, running or waiting. */
  holds(key: string): number;
  /** Requests (not slots) running and waiting now, in total and by key (metrics, tests). */
  stats(): { running: number; waiting: number; byKey: Record<string, { running: number; waiting: number }> };
};

type Waiter = { slots: number; admit(): void; refuse(error: Error): void };
/** `running` and `waiting` count requests; `slots` what they hold, running or waiting. */
type Tenant = { running: number; runningSlots: number; waitingSlots: number; queue: Waiter[] };

const overLimit = (limit: number) => `Too many concurrent requests for this tenant (at most ${limit}); retry later.`;
const tooManyRequests = (message: string, retryAfterSeconds: number) => appError('TOO_MANY_REQUESTS', message, { retryAfterSeconds });

/**
 * Per-tenant concurrency with fair share, in slots. While the running requests hold fewer than
 * `maxInFlight` slots, a request starts at once; beyond that it waits in its tenant's queue, and
 * the next turn goes to the waiting tenant that holds the fewest running slots (round-robin
 * between equals). A tenant with a thousand waiting requests delays another tenant's next
 * request by at most one release, and a tenant sending expensive requests (more slots each)
 * holds fewer of them at once.
 *
 * @example
 * const scheduler = createFairScheduler({ maxInFlight: 64, maxWaitMs: 2_000 });
 * const release = await scheduler.acquire(tenantId, limits.perTenant[plan], signal, slotsOf(cost));
 * try { await work(); } finally { release(); }
 */
export function createFairScheduler({ maxInFlight, maxWaitMs }: Pick<ConcurrencyLimits, 'maxInFlight' | 'maxWaitMs'>): FairScheduler {
  const tenants = new Map<string, Tenant>();
  /** Keys with waiting requests, in turn order: a key served goes to the back. */
  const turns = new Set<string>();
  let running = 0;
  let runningSlots = 0;

  const tenantOf = (key: string) => {
    let tenant = tenants.get(key);
    if (!tenant) {
      tenant = { running: 0, runningSlots: 0, waitingSlots: 0, queue: [] };
      tenants.set(key, tenant);
    }
    return tenant;
  };

  const forget = (key: string, tenant: Tenant) => {
    if (tenant.running === 0 && tenant.queue.length === 0) tenants.delete(key);
  };

  const start = (key: string, tenant: Tenant, slots: number): Release => {
    running++;
    runningSlots += slots;
    tenant.running++;
    tenant.runningSlots += slots;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      running--;
      runningSlots -= slots;
      tenant.running--;
      tenant.runningSlots -= slots;
      forget(key, tenant);
      pump();
    };
  };

  /** The waiting tenant holding the fewest running slots; the first in turn order among equals. */
  const nextTurn = () => {
    let next: { key: string; tenant: Tenant } | undefined;
    for (const key of turns) {
      const tenant = tenants.get(key);
      if (tenant && (!next || tenant.runningSlots < next.tenant.runningSlots)) next = { key, tenant };
    }
    return next;
  };

  const pump = () => {
    for (let next = nextTurn(); next; next = nextTurn()) {
      const waiter = next.tenant.queue[0];
      // The turn's request waits for room rather than be overtaken: an expensive request is not starved by cheap ones.
      if (waiter && runningSlots + waiter.slots > maxInFlight) return;
      turns.delete(next.key);
      if (!waiter) continue;
      if (next.tenant.queue.length > 1) turns.add(next.key);
      waiter.admit();
    }
  };

  return {
    acquire(key, limit, signal, weight = 1) {
      if (signal?.aborted) return Promise.reject(new Error('the request was abandoned'));
      const slots = Math.max(1, Math.min(Math.ceil(weight), limit, maxInFlight));
      const tenant = tenantOf(key);
      if (tenant.runningSlots + tenant.waitingSlots + slots > limit) {
        forget(key, tenant);
        return Promise.reject(tooManyRequests(overLimit(limit), 1));
      }
      if (runningSlots + slots <= maxInFlight && turns.size === 0) return Promise.resolve(start(key, tenant, slots));
      return new Promise<Release>((resolve, reject) => {
        const leave = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          const index = tenant.queue.indexOf(waiter);
          if (index >= 0) {
            tenant.queue.splice(index, 1);
            tenant.waitingSlots -= slots;
          }
          if (tenant.queue.length === 0) turns.delete(key);
        };
        const waiter: Waiter = {
          slots,
          admit() {
            leave();
            resolve(start(key, tenant, slots));
          },
          refuse(error) {
            leave();
            forget(key, tenant);
            reject(error);
            // The refused request may have been the turn that was waiting for room.
            pump();
          },
        };
        const onAbort = () => waiter.refuse(new Error('the request was abandoned'));
        const timer = setTimeout(
          () => waiter.refuse(tooManyRequests('The service is busy; retry later.', Math.max(1, Math.ceil(maxWaitMs / 1000)))),
          maxWaitMs,
        );
        signal?.addEventListener('abort', onAbort, { once: true });
        tenant.queue.push(waiter);
        tenant.waitingSlots += slots;
        turns.add(key);
        pump();
      });
    },
    holds(key) {
      const tenant = tenants.get(key);
      return tenant ? tenant.runningSlots + tenant.waitingSlots : 0;
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
  /** Waits for the tenant's turn, the request taking `weight` slots (1 unless given); see `FairScheduler.acquire`. */
  admit(tenantId: string, signal?: AbortSignal, weight?: number): Promise<Release>;
  /**
   * Refuses with TOO_MANY_REQUESTS when the tenant already holds all its slots, so that whatever
   * the request costs it would be refused: a check to run before reading and parsing the request.
   */
  refuseIfFull(tenantId: string): Promise<void>;
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
  const limitOf = async (tenantId: string) => {
    const tenant = await registry.get(tenantId);
    return tenant ? limits.perTenant[tenant.plan] : smallest;
  };
  return {
    scheduler,
    async admit(tenantId, signal, weight) {
      return scheduler.acquire(tenantId, await limitOf(tenantId), signal, weight);
    },
    async refuseIfFull(tenantId) {
      const limit = await limitOf(tenantId);
      if (scheduler.holds(tenantId) >= limit) throw tooManyRequests(overLimit(limit), 1);
    },
  };
}
