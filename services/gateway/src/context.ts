import type { Logger, TenantRecord, Viewer } from '@tenantgraph/core';

export type GatewayContext = {
  viewer: Viewer;
  /** The tenant's plan, from the registry: it sizes the tenant's budgets. */
  plan: TenantRecord['plan'];
  requestId: string;
  logger: Logger;
  /** Aborted when the client goes away before its answer: it then stops waiting for a turn. */
  closed?: AbortSignal;
};
