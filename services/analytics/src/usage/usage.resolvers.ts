import { tenantEntityResolvers } from '@tenantgraph/server-kit';
import type { AnalyticsContext } from '../context.ts';
import { findEventCounts } from './usage.repository.ts';
import { countRowsToUsage } from './usage.ts';

export const usageResolvers = {
  Tenant: {
    ...tenantEntityResolvers,
    usage: async (_: unknown, __: unknown, { tenantId, inTenant }: AnalyticsContext) =>
      countRowsToUsage(await inTenant((trx) => findEventCounts(trx, tenantId))),
  },
};
