// The registry's typed access for the platform's tenant lifecycle (`pnpm tenant` in tools/cli):
// the tenant table's type and the SQL that reads and writes it, from this room, not copied.
export type { Database as RegistryDatabase } from '../database.ts';
export {
  deleteTenantRow,
  findDedicatedTenantIds,
  findTenant,
  findTenantRows,
  insertTenant,
  updateTenantState,
} from '../tenant/tenant.repository.ts';
