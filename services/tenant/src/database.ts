import type { TenantTable } from './tenant/tenant.table.ts';

export interface Database {
  tenant: TenantTable;
}
