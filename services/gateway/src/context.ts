import type { Logger, TenantRecord, Viewer } from '@tenantgraph/core';
import type { RequestRecord } from '@tenantgraph/server-kit';
import type { CacheScope, SentMutation } from './entity-cache.ts';

export type GatewayContext = {
  viewer: Viewer;
  /** The tenant's plan, from the registry: it sizes the tenant's budgets. */
  plan: TenantRecord['plan'];
  requestId: string;
  /** What the metrics and the access line say of this request (an HTTP request's, a subscription event's lookup). */
  record?: RequestRecord;
  logger: Logger;
  /** What this request's subgraph answers may be cached under; none: nothing is cached. */
  cacheScope?: CacheScope | undefined;
  /** Aborted when the client goes away before its answer: it then stops waiting for a turn. */
  closed?: AbortSignal;
  /** Fetches this request sent to a subgraph (not answered by the entity cache); see `budgetPlugin`. */
  subgraphFetches?: number;
  /** A fetch of this request went to a subgraph the entity cache never keeps: its whole answer is not kept (`wholeAnswers`). */
  uncachedFetch?: boolean;
  /**
   * Whether the answer may be kept whole (`wholeAnswers`: a query, without errors, every fetch
   * cacheable). An object, shared by the copy of the context Apollo Server makes per operation.
   */
  wholeAnswer?: { keep: boolean };
  /**
   * The mutations this request sent, by subgraph, each with the entity types its subgraph said it
   * changed (none said: all of the subgraph's): whose cached answers of the tenant it invalidates
   * (`invalidateOnMutation`).
   */
  mutations?: SentMutation[];
};
