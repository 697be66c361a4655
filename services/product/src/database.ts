import type { ProductTable } from './product/product.table.ts';

export interface Database {
  product: ProductTable;
}
