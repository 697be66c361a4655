import { codes, type GraphQLResponse, graphql } from '@tenantgraph/testkit';
import { describe, expect } from 'vitest';
import { DEFAULT_QUERY_BUDGETS } from '../src/server.ts';
import { type Stack, stackTest } from './stack.ts';

const it = stackTest;

/** The query of issue 9: depth 9, within every static limit, millions of objects over 60 projects. */
const DEPTH_NINE = `{ tenant { organizations { projects { organization { projects { organization { projects {
  organization { projects { id name } } } } } } } } } }`;
/** The same with `first: $n` on every list: only a variable-aware estimate sees its size. */
const DEPTH_NINE_FIRST_N = `query($n: Int) { tenant { organizations(first: $n) { projects(first: $n) { organization { projects(first: $n) {
  organization { projects(first: $n) { organization { projects(first: $n) { id name } } } } } } } } } }`;
/** Mango's plain query from the issue. */
const PLAIN = '{ tenant { organizations { name projects { name } } } }';

/** Requests the subgraphs have executed (and the product one has received) so far. */
const subgraphCalls = (stack: Stack) =>
  Object.values(stack.metrics).reduce((sum, metrics) => sum + metrics.requestCount(), 0) + stack.productRequests.length;

async function ok(stack: Stack, token: string, query: string, variables?: Record<string, unknown>) {
  const response = await graphql(stack.gatewayUrl, { token, query, variables });
  expect(response.body.errors, JSON.stringify(response.body.errors)).toBeUndefined();
  return response.body.data;
}

/** An organization with `count` projects, created as in the issue: one bulkCreateProjects call. */
async function organizationWithProjects(stack: Stack, tenant: string, count: number) {
  const token = await stack.auth.token(tenant, ['projects:write']);
  const { createOrganization } = await ok(stack, token, 'mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { id } }', {
    i: { name: `${tenant} isolation` },
  });
  const names = Array.from({ length: count }, (_, i) => `${tenant} project ${i + 1}`);
  const { bulkCreateProjects } = await ok(stack, token, 'mutation($i: BulkCreateProjectsInput!) { bulkCreateProjects(input: $i) { id } }', {
    i: { organizationId: createOrganization.id, names },
  });
  expect(bulkCreateProjects).toHaveLength(count);
}

function expectRefusedForCost(response: GraphQLResponse, limit: number) {
  expect(response.status).toBe(400);
  expect(response.body.data).toBeUndefined();
  expect(codes(response)).toEqual(['QUERY_TOO_EXPENSIVE']);
  const extensions = response.body.errors?.[0]?.extensions as { cost: number; limit: number };
  expect(extensions.limit).toBe(limit);
  expect(extensions.cost).toBeGreaterThan(limit);
}

describe("one tenant's worst queries do not take the platform from another", () => {
  it("refuses issue 9's depth-9 query over 60 projects with its cost and limit, before any subgraph is called", async ({ stack }) => {
    await organizationWithProjects(stack, 'avocado', 60);
    const token = await stack.auth.token('avocado');
    const before = subgraphCalls(stack);
    const response = await graphql(stack.gatewayUrl, { token, query: DEPTH_NINE });
    expectRefusedForCost(response, DEFAULT_QUERY_BUDGETS.PRO);
    expect(response.body.errors?.[0]?.message).toMatch(/estimated cost is \d+, over this tenant's limit of 25000/);
    expect(subgraphCalls(stack)).toBe(before);
  });

  it('counts first passed as a variable: refused at n = 60, answered in full at n = 2', async ({ stack }) => {
    const token = await stack.auth.token('avocado');
    const before = subgraphCalls(stack);
    expectRefusedForCost(
      await graphql(stack.gatewayUrl, { token, query: DEPTH_NINE_FIRST_N, variables: { n: 60 } }),
      DEFAULT_QUERY_BUDGETS.PRO,
    );
    expect(subgraphCalls(stack)).toBe(before);

    const data = await ok(stack, token, DEPTH_NINE_FIRST_N, { n: 2 });
    const [organization] = data.tenant.organizations;
    expect(organization.projects).toHaveLength(2);
    const deepest = organization.projects[0].organization.projects[0].organization.projects[0].organization.projects;
    expect(deepest).toHaveLength(2);
    for (const project of deepest)
      expect(project).toEqual({ id: expect.stringMatching(/^avocado:/), name: expect.stringMatching(/^avocado project \d+$/) });
  });

  it('holds a FREE tenant to its smaller budget', async ({ stack }) => {
    const token = await stack.auth.token('papaya');
    const wide = '{ tenant { organizations(first: 100) { projects(first: 100) { id } } } }';
    expectRefusedForCost(await graphql(stack.gatewayUrl, { token, query: wide }), DEFAULT_QUERY_BUDGETS.FREE);
    // The same for a PRO tenant (cost 10 101) is within its budget.
    await ok(stack, await stack.auth.token('avocado'), wide);
  });

  it("answers mango's plain query, in full and in time, while avocado sends its worst queries", async ({ stack }) => {
    await organizationWithProjects(stack, 'mango', 3);
    const avocado = await stack.auth.token('avocado');
    const mango = await stack.auth.token('mango');
    // The worst legal query within avocado's budget: 100 × 100, answered (60 projects in full).
    const widest = '{ tenant { organizations(first: 100) { projects(first: 100) { id name organization { name } } } } }';
    const attacks: Promise<GraphQLResponse>[] = [];
    for (let i = 0; i < 10; i++) {
      attacks.push(graphql(stack.gatewayUrl, { token: avocado, query: DEPTH_NINE }));
      attacks.push(graphql(stack.gatewayUrl, { token: avocado, query: DEPTH_NINE_FIRST_N, variables: { n: 60 } }));
      attacks.push(graphql(stack.gatewayUrl, { token: avocado, query: widest }));
    }
    const answers: { elapsedMs: number; response: GraphQLResponse }[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const response = await graphql(stack.gatewayUrl, { token: mango, query: PLAIN });
      answers.push({ elapsedMs: performance.now() - started, response });
    }
    const attacked = await Promise.all(attacks);

    for (const { elapsedMs, response } of answers) {
      expect(response.body.errors).toBeUndefined();
      const organization = response.body.data.tenant.organizations.find(
        (candidate: { name: string }) => candidate.name === 'mango isolation',
      );
      // Created by one statement, the three share a timestamp: only their set is fixed.
      expect(organization.projects.map((project: { name: string }) => project.name).sort()).toEqual([
        'mango project 1',
        'mango project 2',
        'mango project 3',
      ]);
      // Within the gateway's subgraph timeout: what the issue saw was 100 s of timeouts.
      expect(elapsedMs).toBeLessThan(5_000);
    }
    // The depth-nine queries are over avocado's budget: refused for their cost, or (each refusal
    // charging avocado's rate limit, see the next test) for its rate; never run.
    const deepest = attacked.filter((_, index) => index % 3 !== 2);
    const widests = attacked.filter((_, index) => index % 3 === 2);
    for (const response of deepest) expect(['QUERY_TOO_EXPENSIVE', 'TOO_MANY_REQUESTS']).toContain(codes(response)[0]);
    expect(deepest.filter((response) => codes(response)[0] === 'QUERY_TOO_EXPENSIVE').length).toBeGreaterThan(10);
    // Each widest query holds several of avocado's slots by its cost: some run, the others are
    // refused at once for avocado's share (never for mango's), none half-answered.
    const answered = widests.filter((response) => !response.body.errors);
    const overShare = widests.filter((response) => response.status === 429 && codes(response)[0] === 'TOO_MANY_REQUESTS');
    expect(answered.length).toBeGreaterThan(0);
    expect(answered.length + overShare.length).toBe(10);
    for (const response of answered) expect(response.body.data.tenant.organizations[0].projects).toHaveLength(60);
  });

  it('charges a tenant looping on an over-budget query more of its rate, so it is soon refused from its token alone', async ({ stack }) => {
    // A bucket of 12 requests that does not refill during the test: without the charge, twelve refusals.
    const gateway = await stack.startGateway({ planLimits: { PRO: { perSecond: 0.001, burst: 12 } } });
    try {
      const avocado = await stack.auth.token('avocado');
      // Each refusal takes 1 + 9 requests of avocado's 12: two, then the bucket is empty.
      for (let i = 0; i < 2; i++) {
        expect(codes(await graphql(gateway.url, { token: avocado, query: DEPTH_NINE }))).toEqual(['QUERY_TOO_EXPENSIVE']);
      }
      const limited = await graphql(gateway.url, { token: avocado, query: PLAIN });
      expect(limited.status).toBe(429);
      expect(codes(limited)).toEqual(['TOO_MANY_REQUESTS']);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      // Mango's bucket is its own.
      const mango = await graphql(gateway.url, { token: await stack.auth.token('mango'), query: PLAIN });
      expect(mango.body.errors).toBeUndefined();
    } finally {
      await gateway.stop();
    }
  });

  it('a subgraph called directly refuses the same query by itself (zero trust)', async ({ stack }) => {
    const token = await stack.auth.token('avocado');
    const representations = [{ __typename: 'Tenant', id: 'avocado' }];
    const inner = DEPTH_NINE.replace(/^\{ tenant \{/, '').replace(/\} \}$/, '');
    const query = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Tenant { ${inner} } } }`;
    const response = await graphql(stack.subgraphUrls.project, { token, query, variables: { r: representations } });
    expect(response.status).toBe(400);
    expect(codes(response)).toEqual(['QUERY_TOO_EXPENSIVE']);
    expect(response.body.errors?.[0]?.extensions).toMatchObject({ limit: 50_000 });

    // _entities counts its representations: 600 tenants × 100 organizations is over, whatever the selection.
    const many = Array.from({ length: 600 }, () => representations[0]);
    const wide = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Tenant { organizations(first: 100) { id } } } }';
    const refused = await graphql(stack.subgraphUrls.project, { token, query: wide, variables: { r: many } });
    expect(codes(refused)).toEqual(['QUERY_TOO_EXPENSIVE']);
  });
});
