import type { OrderLineTable, OrderNumberCounterTable, OrderTable } from './order/order.table.ts';

export interface Database {
  sales_order: OrderTable;
  sales_order_line: OrderLineTable;
  order_number_counter: OrderNumberCounterTable;
}
