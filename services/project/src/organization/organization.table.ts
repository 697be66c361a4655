import type { Generated, Insertable, Selectable } from 'kysely';

export interface OrganizationTable {
  tenant_id: string;
  id: Generated<string>;
  name: string;
  subscription_tier: string;
  created_at: Generated<Date>;
}

export type OrganizationRow = Selectable<OrganizationTable>;
export type NewOrganizationRow = Insertable<OrganizationTable>;
