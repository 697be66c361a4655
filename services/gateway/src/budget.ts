import type { ApolloGateway } from '@apollo/gateway';
import type { ApolloServerPlugin } from '@apollo/server';
import { appError } from '@tenantgraph/core';
import { type Admission, costLimitPlugin, type ListSizes, listSizesOf } from '@tenantgraph/server-kit';
import { parse } from 'graphql';
import type { GatewayContext } from './context.ts';
import type { Plan, PlanLimits, RateLimiter } from './rate-limit.ts';

/** The most one operation may cost, by the tenant's plan (see `estimateCost` for what a unit is). */
export type QueryBudgets = Record<Plan, number>;

/**
 * Defaults: the contract's dashboard at its default page sizes (cost 4 463, most of it the
 * worst case of 100 lines per order) passes every plan; the depth-9 query of issue 9 (millions)
 * does not. A cost of 50 000 is about 50 000 objects in the answer.
 */
export const DEFAULT_QUERY_BUDGETS: QueryBudgets = { FREE: 10_000, PRO: 25_000, ENTERPRISE: 50_000 };

/**
 * Estimated cost per concurrency slot: a request holds `ceil(cost / COST_PER_SLOT)` of its
 * tenant's slots (and of the gateway's), so what a tenant holds in flight is bounded by cost,
 * not by count. The dashboard at its default pages (4 463) takes two slots; an operation at the
 * PRO budget (25 000) ten of PRO's 16, so a PRO tenant runs its most expensive operations one at
 * a time (beside a few dashboards) however many connections it opens.
 */
export const COST_PER_SLOT = 2_500;

/**
 * Estimated cost a tenant may spend per second, by plan, and how much of it may be spent at once
 * (`burst`, never less than the plan's budget, so any admissible operation can run on a full
 * bucket). The dashboard at its default pages (4 463) runs 2 times a second on FREE, 10 on PRO and
 * 25 on ENTERPRISE; the most expensive PRO operation (25 000) twice a second. What the platform
 * serves is a few hundred thousand a second on two cores (BENCHMARKS.md): no one tenant can take it.
 */
export const DEFAULT_COST_RATES: PlanLimits = {
  FREE: { perSecond: 10_000, burst: 20_000 },
  PRO: { perSecond: 50_000, burst: 100_000 },
  ENTERPRISE: { perSecond: 125_000, burst: 250_000 },
};

type BudgetOptions = {
  budgets: QueryBudgets;
  admission: Admission;
  costPerSlot?: number;
  /** Estimated cost per second by plan, taken from `limiter` (the request buckets' store) under the key `cost:<tenant>`. */
  costRates: PlanLimits;
  limiter: RateLimiter;
};

/**
 * Refuses an operation over the tenant's budget with QUERY_TOO_EXPENSIVE (400, `cost` and
 * `limit`), once variables are known and before any subgraph is called; then takes its cost from
 * the tenant's cost per second (TOO_MANY_REQUESTS, 429 with `Retry-After`, once spent: what keeps
 * one tenant's most expensive operations, run one after the other, from taking the subgraphs'
 * time from every other) — and gives it back when the answer needed no subgraph (the entity cache
 * answered it, or it was refused before any fetch, or no turn came); then waits for the request's
 * turn in `admission`, weighted by its cost.
 * A refused operation never takes a turn. List sizes come from the `@listSize` declarations of
 * the supergraph the gateway serves, read again on every reload.
 */
export function budgetPlugin(
  gateway: ApolloGateway,
  { budgets, admission, costPerSlot = COST_PER_SLOT, costRates, limiter }: BudgetOptions,
): ApolloServerPlugin<GatewayContext> {
  let listSizes: ListSizes = new Map();
  gateway.onSchemaLoadOrUpdate(({ coreSupergraphSdl }) => {
    listSizes = listSizesOf(parse(coreSupergraphSdl));
  });
  return costLimitPlugin<GatewayContext>({
    budget: (context) => budgets[context.plan] ?? budgets.FREE,
    listSizes: () => listSizes,
    async admit(context, cost) {
      const rate = costRates[context.plan] ?? costRates.FREE;
      const bucket = `cost:${context.viewer.tenantId}`;
      const { allowed, retryAfterSeconds } = await limiter.take(bucket, rate, cost);
      if (!allowed) {
        throw appError('TOO_MANY_REQUESTS', `This tenant's operations may cost ${rate.perSecond} a second; retry later.`, {
          retryAfterSeconds,
        });
      }
      const release = await admission.admit(context.viewer.tenantId, context.closed, cost / costPerSlot).catch(async (error) => {
        await limiter.take(bucket, rate, -cost);
        throw error;
      });
      return () => {
        release();
        // Answered without a subgraph (from the entity cache, or refused before any fetch): its cost is given back.
        if (!context.subgraphFetches) void limiter.take(bucket, rate, -cost).catch(() => {});
      };
    },
  });
}

/** Requests of its rate limit an operation refused for its cost takes from its tenant (the request itself included). */
const OVER_BUDGET_PENALTY = 10;

/**
 * Charges a tenant whose operation was refused with QUERY_TOO_EXPENSIVE `penalty - 1` more
 * requests of its rate limit. A client that sends the same over-budget query in a loop (it gets
 * no `Retry-After`: the answer will not change) soon hits the rate limit instead, which refuses
 * from the token alone, before the body is read or parsed: refusing it stays cheap for everyone else.
 */
export function overBudgetPenalty(
  rateLimiter: RateLimiter,
  planLimits: PlanLimits,
  penalty = OVER_BUDGET_PENALTY,
): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue }) {
          if (!errors.some((error) => error.extensions?.code === 'QUERY_TOO_EXPENSIVE') || !contextValue.viewer) return;
          const limit = planLimits[contextValue.plan] ?? planLimits.FREE;
          for (let i = 1; i < penalty; i++) await rateLimiter.take(contextValue.viewer.tenantId, limit);
        },
      };
    },
  };
}
