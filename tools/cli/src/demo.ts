import type { Issuer } from '@tenantgraph/devkit';

/** The demo tenants and what `pnpm start` loads for them, through the public API. */
export const DEMO_TENANTS = [
  { id: 'avocado', name: 'Avocado Inc', plan: 'PRO', dedicated: false },
  { id: 'mango', name: 'Mango Inc', plan: 'ENTERPRISE', dedicated: true },
] as const;

const DEMO_DATA: Record<string, DemoData> = {
  avocado: {
    products: [
      { sku: 'AVO-HASS', name: 'Hass Avocado', priceCents: 199, stock: 500 },
      { sku: 'AVO-GUAC', name: 'Guacamole Kit', priceCents: 1299, stock: 40 },
      { sku: 'AVO-OIL', name: 'Avocado Oil 500ml', priceCents: 899, stock: 120 },
    ],
    orders: [
      [
        { product: 0, quantity: 12 },
        { product: 1, quantity: 1 },
      ],
      [{ product: 2, quantity: 3 }],
    ],
    organizations: [
      {
        name: 'Avocado Labs',
        subscriptionTier: 'pro',
        members: [
          { name: 'Ada Green', email: 'ada@avocado.example' },
          { name: 'Hugo Pitt', email: 'hugo@avocado.example' },
        ],
        projects: [
          { name: 'Orchard Expansion', tasks: ['Survey the south field', 'Order saplings'] },
          { name: 'Cold Chain', tasks: ['Pick a refrigerated carrier'] },
        ],
      },
    ],
  },
  mango: {
    products: [
      { sku: 'MAN-ALPH', name: 'Alphonso Mango', priceCents: 349, stock: 300 },
      { sku: 'MAN-LASSI', name: 'Mango Lassi Mix', priceCents: 599, stock: 80 },
      { sku: 'MAN-DRY', name: 'Dried Mango 200g', priceCents: 450, stock: 150 },
    ],
    orders: [
      [{ product: 0, quantity: 24 }],
      [
        { product: 1, quantity: 2 },
        { product: 2, quantity: 5 },
      ],
    ],
    organizations: [
      {
        name: 'Mango Ventures',
        subscriptionTier: 'enterprise',
        members: [{ name: 'Ravi Mehta', email: 'ravi@mango.example' }],
        projects: [{ name: 'Monsoon Harvest', tasks: ['Hire pickers', 'Book the packing house', 'Check ripeness data'] }],
      },
    ],
  },
};

type DemoData = {
  products: { sku: string; name: string; priceCents: number; stock: number }[];
  orders: { product: number; quantity: number }[][];
  organizations: {
    name: string;
    subscriptionTier: string;
    members: { name: string; email: string }[];
    projects: { name: string; tasks: string[] }[];
  }[];
};

export const ALL_SCOPES = ['tenant:admin', 'products:write', 'orders:write', 'projects:write'];

/**
 * Loads the demo rows of each demo tenant through the gateway, as that tenant's user, unless
 * the tenant already has products (so a restart keeps what is there).
 */
export async function seedDemo(gatewayUrl: string, issuer: Issuer, log: (line: string) => void) {
  for (const tenant of DEMO_TENANTS) {
    const token = await issuer.sign({ tenant: tenant.id, scopes: ALL_SCOPES, subject: 'demo-seed' });
    const call = async (query: string, variables: Record<string, unknown> = {}) => {
      const response = await fetch(gatewayUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as { data?: any; errors?: { message: string }[] };
      if (body.errors?.length) throw new Error(`demo data for ${tenant.id}: ${body.errors.map((error) => error.message).join('; ')}`);
      return body.data;
    };
    const { tenant: current } = await call('{ tenant { products(first: 1) { totalCount } } }');
    if (current.products.totalCount > 0) {
      log(`${tenant.id}: demo data already loaded`);
      continue;
    }
    const data = DEMO_DATA[tenant.id]!;
    const productIds: string[] = [];
    for (const input of data.products) {
      const created = await call('mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }', { input });
      productIds.push(created.createProduct.id);
    }
    for (const lines of data.orders) {
      await call('mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { number } }', {
        input: { lines: lines.map((line) => ({ productId: productIds[line.product], quantity: line.quantity })) },
      });
    }
    for (const organization of data.organizations) {
      const { createOrganization } = await call('mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { id } }', {
        input: { name: organization.name, subscriptionTier: organization.subscriptionTier },
      });
      for (const member of organization.members) {
        await call('mutation($input: AddMemberInput!) { addMember(input: $input) { id } }', {
          input: { organizationId: createOrganization.id, ...member },
        });
      }
      const { bulkCreateProjects } = await call(
        'mutation($input: BulkCreateProjectsInput!) { bulkCreateProjects(input: $input) { id name } }',
        {
          input: { organizationId: createOrganization.id, names: organization.projects.map((project) => project.name) },
        },
      );
      for (const [index, project] of organization.projects.entries()) {
        for (const [taskIndex, title] of project.tasks.entries()) {
          const { createTask } = await call('mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }', {
            input: { projectId: bulkCreateProjects[index].id, title },
          });
          if (taskIndex === 0) await call('mutation($id: ID!) { updateTaskStatus(id: $id, status: DOING) { id } }', { id: createTask.id });
        }
      }
    }
    log(
      `${tenant.id}: demo data loaded (${data.products.length} products, ${data.orders.length} orders, ${data.organizations.length} organization)`,
    );
  }
}
