import { graphql } from '@tenantgraph/testkit';
import { describe, expect, test } from 'vitest';
import { type Stack, startStack } from './stack.ts';

// This test loads the gateway on purpose and reads everything at once: rate, cost and concurrency
// limits are not what it is about.
const unlimited = { perSecond: 100_000, burst: 100_000 };
const unlimitedCost = { perSecond: 1e9, burst: 1e9 };
const it = test.extend<{ stack: Stack }>({
  stack: [
    // biome-ignore lint/correctness/noEmptyPattern: vitest reads the fixture's dependencies from this pattern
    async ({}, use) => {
      const stack = await startStack({
        planLimits: { FREE: unlimited, PRO: unlimited, ENTERPRISE: unlimited },
        costRates: { FREE: unlimitedCost, PRO: unlimitedCost, ENTERPRISE: unlimitedCost },
        queryBudgets: { FREE: 1_000_000, PRO: 1_000_000, ENTERPRISE: 1_000_000 },
        concurrency: { maxInFlight: 1_000, perTenant: { FREE: 1_000, PRO: 1_000, ENTERPRISE: 1_000 }, maxWaitMs: 30_000 },
      });
      await use(stack);
      await stack.stop();
    },
    { scope: 'file' },
  ],
});

const TENANTS = ['avocado', 'mango', 'papaya'];
const WORKERS_PER_TENANT = 3;
const ROUNDS = 6;
const SCOPES = ['products:write', 'orders:write', 'projects:write'];

const READ = `{
  tenant {
    id
    products(first: 100) { totalCount nodes { id tenant { id } } }
    orders(first: 100) { totalCount nodes { id tenant { id } lines { product { id } } } }
    organizations { id tenant { id } projects { id } }
    projects(first: 100) { totalCount nodes { id tenant { id } organization { id } tasks { id } } }
  }
}`;

/** Every id in an answer, wherever it sits. */
function idsIn(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) idsIn(item, found);
  else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'id' && typeof inner === 'string') found.push(inner);
      else idsIn(inner, found);
    }
  }
  return found;
}

describe('three tenants at once through all four subgraphs', () => {
  it('never shows a row of one tenant to another, and loses or duplicates none', async ({ stack }) => {
    const call = async (tenant: string, query: string, variables: Record<string, unknown> = {}) => {
      const response = await graphql(stack.gatewayUrl, { token: await stack.auth.token(tenant, SCOPES), query, variables });
      expect(response.body.errors, JSON.stringify(response.body.errors)).toBeUndefined();
      return response.body.data;
    };
    const worker = async (tenant: string, worker: number) => {
      const { createOrganization } = await call(tenant, 'mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { id } }', {
        i: { name: `${tenant} soak org ${worker}` },
      });
      for (let round = 0; round < ROUNDS; round++) {
        const name = `${tenant}-${worker}-${round}`;
        const [{ createProduct }, { createProject }] = await Promise.all([
          call(tenant, 'mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }', {
            i: { sku: name, name, priceCents: 100 + round },
          }),
          call(tenant, 'mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }', {
            i: { organizationId: createOrganization.id, name },
          }),
        ]);
        const [, , read] = await Promise.all([
          call(tenant, 'mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { id } }', {
            i: { lines: [{ productId: createProduct.id, quantity: 1 + round }] },
          }),
          call(tenant, 'mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }', {
            i: { projectId: createProject.id, title: name },
          }),
          call(tenant, READ),
        ]);
        expect(read.tenant.id).toBe(tenant);
        const foreign = idsIn(read).filter((id) => id !== tenant && !id.startsWith(`${tenant}:`));
        expect(foreign).toEqual([]);
      }
    };

    const before = Object.fromEntries(await Promise.all(TENANTS.map(async (tenant) => [tenant, (await call(tenant, READ)).tenant])));
    await Promise.all(TENANTS.flatMap((tenant) => Array.from({ length: WORKERS_PER_TENANT }, (_, index) => worker(tenant, index))));

    const created = WORKERS_PER_TENANT * ROUNDS;
    for (const tenant of TENANTS) {
      const after = (await call(tenant, READ)).tenant;
      expect(after.products.totalCount).toBe(before[tenant].products.totalCount + created);
      expect(after.orders.totalCount).toBe(before[tenant].orders.totalCount + created);
      expect(after.projects.totalCount).toBe(before[tenant].projects.totalCount + created);
      expect(after.organizations).toHaveLength(before[tenant].organizations.length + WORKERS_PER_TENANT);
      const tasks = after.projects.nodes.reduce((sum: number, project: { tasks: unknown[] }) => sum + project.tasks.length, 0);
      const tasksBefore = before[tenant].projects.nodes.reduce(
        (sum: number, project: { tasks: unknown[] }) => sum + project.tasks.length,
        0,
      );
      expect(tasks).toBe(tasksBefore + created);
      expect(idsIn(after).every((id) => id === tenant || id.startsWith(`${tenant}:`))).toBe(true);
    }
  });
});
