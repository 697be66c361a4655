import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export interface TenantTable {
  id: string;
  slug: string;
  name: string;
  plan: 'FREE' | 'PRO' | 'ENTERPRISE';
  placement: Generated<'shared' | 'dedicated'>;
  status: Generated<'active' | 'provisioning' | 'moving' | 'deleting'>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export type TenantRow = Selectable<TenantTable>;
export type NewTenantRow = Insertable<TenantTable>;
export type TenantUpdate = Updateable<TenantTable>;
