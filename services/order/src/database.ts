import type { OutboxTable } from '@tenantgraph/events';
import type { OrderLineTable, OrderNumberCounterTable, OrderTable } from './order/order.table.ts';

export interface Database {
  event_outbox: OutboxTable;
  sales_order: OrderTable;
  sales_order_line: OrderLineTable;
  order_number_counter: OrderNumberCounterTable;
}
