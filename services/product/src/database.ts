import type { OutboxTable } from '@tenantgraph/events';
import type { ProductTable } from './product/product.table.ts';

export interface Database {
  event_outbox: OutboxTable;
  product: ProductTable;
}
