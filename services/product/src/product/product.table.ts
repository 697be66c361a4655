import type { Generated, Insertable, Selectable } from 'kysely';

export interface ProductTable {
  tenant_id: string;
  id: Generated<string>;
  sku: string;
  name: string;
  price_cents: number;
  currency: string;
  stock: Generated<number>;
  created_at: Generated<Date>;
}

export type ProductRow = Selectable<ProductTable>;
export type NewProductRow = Insertable<ProductTable>;
