import { connect } from '@tenantgraph/database';
import { sql } from 'kysely';

export type Volume = {
  /** Number of tenants; the first, `bench-000`, is the largest. */
  tenants: number;
  /** Products and orders of the largest tenant. */
  products: number;
  orders: number;
  /** Products and orders of every other tenant. */
  smallProducts: number;
  smallOrders: number;
};

export const tenantIds = (volume: Volume) => Array.from({ length: volume.tenants }, (_, i) => `bench-${String(i).padStart(3, '0')}`);

/**
 * Loads the benchmark's rows straight into the databases as the superuser, set-based, so that
 * 200 tenants and thousands of rows take seconds. Orders reference real products of their tenant;
 * every tenant gets organizations, members, projects and tasks.
 */
export async function seedVolume(
  adminUrls: Record<'tenant' | 'product' | 'order' | 'project', string>,
  volume: Volume,
  log: (line: string) => void,
) {
  const ids = tenantIds(volume);
  const tenant = connect(adminUrls.tenant, { max: 1 });
  const product = connect(adminUrls.product, { max: 1 });
  const order = connect(adminUrls.order, { max: 1 });
  const project = connect(adminUrls.project, { max: 1 });
  try {
    await sql`insert into tenant (id, slug, name, plan)
              select id, id, 'Bench ' || id, 'ENTERPRISE' from unnest(${ids}::text[]) as id`.execute(tenant);
    for (const [index, id] of ids.entries()) {
      const products = index === 0 ? volume.products : volume.smallProducts;
      const orders = index === 0 ? volume.orders : volume.smallOrders;
      await sql`insert into product (tenant_id, sku, name, price_cents, currency, stock, created_at)
                select ${id}, 'SKU-' || g, 'Product ' || g, 100 + g, 'USD', 50, now() - make_interval(secs => ${products} - g)
                from generate_series(1, ${products}) g`.execute(product);
      const { rows } = await sql<{ id: string }>`select id from product where tenant_id = ${id} order by created_at`.execute(product);
      const productIds = rows.map((row) => row.id);
      await sql`insert into sales_order (tenant_id, number, status, currency, total_cents, placed_at)
                select ${id}, g, case when g % 10 = 0 then 'CANCELLED' else 'PLACED' end, 'USD', 0, now() - make_interval(secs => ${orders} - g)
                from generate_series(1, ${orders}) g`.execute(order);
      await sql`insert into sales_order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price_cents)
                select o.tenant_id, o.id, l, (${productIds}::uuid[])[1 + ((o.number * 7 + l) % ${productIds.length})], 1 + (o.number % 3), 150
                from sales_order o cross join generate_series(1, 2) l where o.tenant_id = ${id}`.execute(order);
      await sql`update sales_order o set total_cents = s.total
                from (select order_id, sum(quantity * unit_price_cents) as total from sales_order_line where tenant_id = ${id} group by order_id) s
                where o.tenant_id = ${id} and o.id = s.order_id`.execute(order);
      await sql`insert into order_number_counter (tenant_id, last_number) values (${id}, ${orders})`.execute(order);
      const organizations = index === 0 ? 10 : 2;
      await sql`insert into organization (tenant_id, name, subscription_tier)
                select ${id}, 'Organization ' || g, 'pro' from generate_series(1, ${organizations}) g`.execute(project);
      await sql`insert into member (tenant_id, organization_id, name, email)
                select ${id}, o.id, 'Member ' || g, 'member' || g || '@' || o.id || '.example'
                from organization o cross join generate_series(1, 5) g where o.tenant_id = ${id}`.execute(project);
      await sql`insert into project (tenant_id, organization_id, name)
                select ${id}, o.id, 'Project ' || g from organization o cross join generate_series(1, 5) g where o.tenant_id = ${id}`.execute(
        project,
      );
      await sql`insert into task (tenant_id, project_id, title, status)
                select ${id}, p.id, 'Task ' || g, (array['TODO','DOING','DONE'])[1 + g % 3]
                from project p cross join generate_series(1, 4) g where p.tenant_id = ${id}`.execute(project);
      if (index % 50 === 0) log(`seeded ${index + 1}/${ids.length} tenants`);
    }
    for (const db of [product, order, project]) await sql`analyze`.execute(db);
    log(`seeded ${ids.length} tenants (largest: ${volume.products} products, ${volume.orders} orders)`);
  } finally {
    await Promise.all([tenant, product, order, project].map((db) => db.destroy()));
  }
}
