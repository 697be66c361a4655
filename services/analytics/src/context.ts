import type { DatabaseRouter } from '@tenantgraph/database';
import { type DataContext, dataContext, type SubgraphContext } from '@tenantgraph/server-kit';
import type { Database } from './database.ts';

export type AnalyticsContext = DataContext<Database>;

export async function createContext(base: SubgraphContext, databases: DatabaseRouter<Database>): Promise<AnalyticsContext> {
  return dataContext(base, await databases.forTenant(base.tenantId));
}
