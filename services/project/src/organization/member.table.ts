import type { Generated, Insertable, Selectable } from 'kysely';

export interface MemberTable {
  tenant_id: string;
  id: Generated<string>;
  organization_id: string;
  name: string;
  email: string;
  created_at: Generated<Date>;
}

export type MemberRow = Selectable<MemberTable>;
export type NewMemberRow = Insertable<MemberTable>;
