import { connect } from '@tenantgraph/database';
import { codes, dataSubgraphTest, type GraphQLResponse, graphql, outboxEvents } from '@tenantgraph/testkit';
import { sql } from 'kysely';
import { describe, expect } from 'vitest';
import type { Database } from '../src/database.ts';
import { createProjectServer, migrationsFolder } from '../src/server.ts';

const it = dataSubgraphTest<Database>({ service: 'project', migrationsFolder, create: createProjectServer });

const CREATE_ORGANIZATION = `mutation($input: CreateOrganizationInput!) {
  createOrganization(input: $input) { id name subscriptionTier memberCount tenant { id } projects { id } }
}`;
const ADD_MEMBER = 'mutation($input: AddMemberInput!) { addMember(input: $input) { id name email } }';
const CREATE_PROJECT = `mutation($input: CreateProjectInput!) {
  createProject(input: $input) { id name createdAt taskCount tenant { id } organization { id name } }
}`;
const BULK = 'mutation($input: BulkCreateProjectsInput!) { bulkCreateProjects(input: $input) { id name } }';
const CREATE_TASK = 'mutation($input: CreateTaskInput!) { createTask(input: $input) { id title status createdAt } }';
const UPDATE_TASK = 'mutation($id: ID!, $status: TaskStatus!) { updateTaskStatus(id: $id, status: $status) { id title status } }';

const TENANT = `query($r: [_Any!]!) {
  _entities(representations: $r) { ... on Tenant {
    organizations { id name subscriptionTier memberCount projects { id name taskCount tasks { id title status } } }
    projects(first: 100) { totalCount nodes { id name } }
  } }
}`;
const PAGE = `query($r: [_Any!]!, $first: Int, $after: String) {
  _entities(representations: $r) { ... on Tenant { projects(first: $first, after: $after) { totalCount nodes { id name createdAt } pageInfo { hasNextPage endCursor } } } }
}`;
const HEAVY_PAGE = `query($r: [_Any!]!, $first: Int) {
  _entities(representations: $r) { ... on Tenant { projects(first: $first) {
    nodes { id name taskCount tasks { id title status } organization { id name memberCount } }
  } } }
}`;
const ENTITIES = `query($r: [_Any!]!) { _entities(representations: $r) {
  ... on Organization { id name memberCount projects { name } }
  ... on Project { id name taskCount organization { name } }
} }`;

const WRITE = ['projects:write'];

type Client = (query: string, variables?: Record<string, unknown>) => Promise<GraphQLResponse>;

/** A client for one tenant and its scopes; every call is a real signed request over HTTP. */
async function clientFor(
  auth: { token(tenant: string, scopes?: string[]): Promise<string> },
  url: string,
  tenant: string,
  scopes: string[] = WRITE,
): Promise<Client> {
  const token = await auth.token(tenant, scopes);
  return (query, variables) => graphql(url, { token, query, variables });
}

/** Runs a mutation that must succeed and returns its single field. */
async function ok(client: Client, query: string, variables: Record<string, unknown>) {
  const response = await client(query, variables);
  expect(response.body.errors).toBeUndefined();
  return Object.values(response.body.data as Record<string, any>)[0];
}

async function tenantView(client: Client, tenant: string) {
  const response = await client(TENANT, { r: [{ __typename: 'Tenant', id: tenant }] });
  expect(response.body.errors).toBeUndefined();
  return response.body.data._entities[0];
}

describe('project subgraph', () => {
  it('runs every mutation for both tenants, each seeing only its own rows in its own database', async ({ auth, url, databases }) => {
    for (const tenant of ['avocado', 'mango']) {
      const client = await clientFor(auth, url, tenant);
      const organization = await ok(client, CREATE_ORGANIZATION, { input: { name: `  ${tenant} Org  ` } });
      expect(organization).toMatchObject({
        name: `${tenant} Org`,
        subscriptionTier: 'free',
        memberCount: 0,
        tenant: { id: tenant },
        projects: [],
      });
      expect(organization.id).toMatch(new RegExp(`^${tenant}:[0-9a-f-]{36}$`));
      const enterprise = await ok(client, CREATE_ORGANIZATION, { input: { name: `${tenant} Enterprise`, subscriptionTier: 'enterprise' } });
      expect(enterprise.subscriptionTier).toBe('enterprise');

      const member = await ok(client, ADD_MEMBER, {
        input: { organizationId: organization.id, name: ' Ada ', email: ' Ada@Example.com ' },
      });
      expect(member).toMatchObject({ name: 'Ada', email: 'ada@example.com' });
      expect(member.id).toMatch(new RegExp(`^${tenant}:`));

      const project = await ok(client, CREATE_PROJECT, { input: { organizationId: organization.id, name: `${tenant} Launch` } });
      expect(project).toMatchObject({
        name: `${tenant} Launch`,
        taskCount: 0,
        tenant: { id: tenant },
        organization: { id: organization.id, name: `${tenant} Org` },
      });
      expect(project.id).toMatch(new RegExp(`^${tenant}:`));

      const bulk = await ok(client, BULK, { input: { organizationId: organization.id, names: ['Zeta', 'Alpha', 'Mu'] } });
      expect(bulk.map((p: { name: string }) => p.name)).toEqual(['Zeta', 'Alpha', 'Mu']);
      for (const p of bulk) expect(p.id).toMatch(new RegExp(`^${tenant}:`));

      const task = await ok(client, CREATE_TASK, { input: { projectId: project.id, title: ` ${tenant} first task ` } });
      expect(task).toMatchObject({ title: `${tenant} first task`, status: 'TODO' });
      expect(task.id).toMatch(new RegExp(`^${tenant}:`));
      await ok(client, CREATE_TASK, { input: { projectId: project.id, title: 'second' } });
      const updated = await ok(client, UPDATE_TASK, { id: task.id, status: 'DOING' });
      expect(updated).toMatchObject({ id: task.id, status: 'DOING' });
    }

    for (const [tenant, other] of [
      ['avocado', 'mango'],
      ['mango', 'avocado'],
    ] as const) {
      const view = await tenantView(await clientFor(auth, url, tenant, []), tenant);
      expect(view.organizations.map((o: { name: string }) => o.name)).toEqual([`${tenant} Enterprise`, `${tenant} Org`]);
      const organization = view.organizations[1];
      expect(organization.memberCount).toBe(1);
      // Oldest first; the bulk-created three share one transaction's timestamp, so only their set is fixed.
      const projectNames = organization.projects.map((p: { name: string }) => p.name);
      expect(projectNames[0]).toBe(`${tenant} Launch`);
      expect(projectNames.slice(1).sort()).toEqual(['Alpha', 'Mu', 'Zeta']);
      const launch = organization.projects.find((p: { name: string }) => p.name === `${tenant} Launch`);
      expect(launch.taskCount).toBe(2);
      expect(launch.tasks.map((t: { title: string; status: string }) => [t.title, t.status])).toEqual([
        [`${tenant} first task`, 'DOING'],
        ['second', 'TODO'],
      ]);
      expect(view.projects.totalCount).toBe(4);
      const body = JSON.stringify(view);
      expect(body).not.toContain(other);
    }

    // Placement: mango's rows are only in its dedicated database, avocado's only in the shared one.
    const count = async (databaseUrl: string, table: string, tenant: string) => {
      const db = connect(databases.asAdmin(databaseUrl));
      try {
        const { rows } = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)} where tenant_id = ${tenant}`.execute(
          db,
        );
        return rows[0]?.n;
      } finally {
        await db.destroy();
      }
    };
    const expected = { organization: 2, member: 1, project: 4, task: 2 };
    for (const [table, n] of Object.entries(expected)) {
      expect(await count(databases.dedicatedUrl('mango'), table, 'mango')).toBe(n);
      expect(await count(databases.sharedUrl, table, 'mango')).toBe(0);
      expect(await count(databases.sharedUrl, table, 'avocado')).toBe(n);
      expect(await count(databases.dedicatedUrl('mango'), table, 'avocado')).toBe(0);
    }

    // One event per change, in the database of the change, in the order made.
    for (const [tenant, databaseUrl] of [
      ['avocado', databases.sharedUrl],
      ['mango', databases.dedicatedUrl('mango')],
    ] as const) {
      const events = await outboxEvents(databases.asAdmin(databaseUrl));
      expect(events.map((event) => [event.tenant_id, event.type])).toEqual([
        ...Array.from({ length: 4 }, () => [tenant, 'project.created']),
        [tenant, 'task.created'],
        [tenant, 'task.created'],
        [tenant, 'task.status_changed'],
      ]);
      expect(events.at(-1)?.payload).toMatchObject({ from: 'TODO', status: 'DOING' });
    }
  });

  it('needs projects:write for every mutation and changes nothing without it', async ({ auth, url }) => {
    const writer = await clientFor(auth, url, 'avocado');
    const organization = await ok(writer, CREATE_ORGANIZATION, { input: { name: 'Scoped Org' } });
    const project = await ok(writer, CREATE_PROJECT, { input: { organizationId: organization.id, name: 'Scoped project' } });
    const task = await ok(writer, CREATE_TASK, { input: { projectId: project.id, title: 'Scoped task' } });
    const before = JSON.stringify(await tenantView(writer, 'avocado'));

    for (const scopes of [[], ['products:write', 'orders:write', 'tenant:admin']]) {
      const reader = await clientFor(auth, url, 'avocado', scopes);
      const attempts: [string, Record<string, unknown>][] = [
        [CREATE_ORGANIZATION, { input: { name: 'No scope org' } }],
        [ADD_MEMBER, { input: { organizationId: organization.id, name: 'Eve', email: 'eve@example.com' } }],
        [CREATE_PROJECT, { input: { organizationId: organization.id, name: 'No scope project' } }],
        [BULK, { input: { organizationId: organization.id, names: ['No scope 1', 'No scope 2'] } }],
        [CREATE_TASK, { input: { projectId: project.id, title: 'No scope task' } }],
        [UPDATE_TASK, { id: task.id, status: 'DONE' }],
      ];
      for (const [query, variables] of attempts) {
        const response = await reader(query, variables);
        expect(codes(response)).toEqual(['FORBIDDEN']);
        // Refused by the schema's @requiresScopes before anything runs: no data at all.
        expect(response.body.data).toBeUndefined();
      }
    }
    expect(JSON.stringify(await tenantView(writer, 'avocado'))).toBe(before);
  });

  it('refuses bad input with BAD_USER_INPUT naming the field and changes nothing', async ({ auth, url }) => {
    const client = await clientFor(auth, url, 'avocado');
    const organization = await ok(client, CREATE_ORGANIZATION, { input: { name: 'Validation Org' } });
    const project = await ok(client, CREATE_PROJECT, { input: { organizationId: organization.id, name: 'Validation project' } });
    await ok(client, ADD_MEMBER, { input: { organizationId: organization.id, name: 'Bob', email: 'bob@example.com' } });
    const before = JSON.stringify(await tenantView(client, 'avocado'));

    const long = 'x'.repeat(201);
    const cases: [string, Record<string, unknown>, string][] = [
      [CREATE_ORGANIZATION, { input: { name: '   ' } }, 'name'],
      [CREATE_ORGANIZATION, { input: { name: long } }, 'name'],
      [CREATE_ORGANIZATION, { input: { name: 'Tierless', subscriptionTier: ' ' } }, 'subscriptionTier'],
      [CREATE_ORGANIZATION, { input: { name: 'Tier too long', subscriptionTier: 't'.repeat(51) } }, 'subscriptionTier'],
      [CREATE_ORGANIZATION, { input: { name: 'Validation Org' } }, 'name'],
      [ADD_MEMBER, { input: { organizationId: organization.id, name: '', email: 'x@example.com' } }, 'name'],
      [ADD_MEMBER, { input: { organizationId: organization.id, name: 'X', email: 'not-an-email' } }, 'email'],
      [ADD_MEMBER, { input: { organizationId: organization.id, name: 'X', email: `${'a'.repeat(250)}@example.com` } }, 'email'],
      [ADD_MEMBER, { input: { organizationId: organization.id, name: 'Bob again', email: 'BOB@example.com' } }, 'email'],
      [CREATE_PROJECT, { input: { organizationId: organization.id, name: ' ' } }, 'name'],
      [CREATE_PROJECT, { input: { organizationId: organization.id, name: long } }, 'name'],
      [CREATE_PROJECT, { input: { organizationId: organization.id, name: 'Validation project' } }, 'name'],
      [BULK, { input: { organizationId: organization.id, names: [] } }, 'names'],
      [BULK, { input: { organizationId: organization.id, names: Array.from({ length: 101 }, (_, i) => `Too many ${i}`) } }, 'names'],
      [CREATE_TASK, { input: { projectId: project.id, title: '  ' } }, 'title'],
      [CREATE_TASK, { input: { projectId: project.id, title: long } }, 'title'],
    ];
    for (const [query, variables, field] of cases) {
      const response = await client(query, variables);
      expect(codes(response), JSON.stringify(variables).slice(0, 80)).toEqual(['BAD_USER_INPUT']);
      expect(response.body.errors?.[0]?.extensions).toMatchObject({ field });
    }
    expect(codes(await client(UPDATE_TASK, { id: 'x', status: 'LATER' }))).toEqual(['BAD_USER_INPUT']);
    expect(JSON.stringify(await tenantView(client, 'avocado'))).toBe(before);
  });

  it('answers ids the tenant does not have with NOT_FOUND', async ({ auth, url }) => {
    const client = await clientFor(auth, url, 'avocado');
    const missing = 'avocado:00000000-0000-4000-8000-000000000000';
    const attempts: [string, Record<string, unknown>][] = [
      [ADD_MEMBER, { input: { organizationId: missing, name: 'Nobody', email: 'nobody@example.com' } }],
      [ADD_MEMBER, { input: { organizationId: 'garbage', name: 'Nobody', email: 'nobody@example.com' } }],
      [CREATE_PROJECT, { input: { organizationId: missing, name: 'Orphan' } }],
      [BULK, { input: { organizationId: missing, names: ['Orphan 1', 'Orphan 2'] } }],
      [CREATE_TASK, { input: { projectId: missing, title: 'Orphan task' } }],
      [CREATE_TASK, { input: { projectId: '', title: 'Orphan task' } }],
      [UPDATE_TASK, { id: missing, status: 'DONE' }],
      [UPDATE_TASK, { id: 'not-an-id', status: 'DONE' }],
    ];
    for (const [query, variables] of attempts) expect(codes(await client(query, variables))).toEqual(['NOT_FOUND']);
    const entities = await client(ENTITIES, {
      r: [
        { __typename: 'Organization', id: missing },
        { __typename: 'Project', id: 'garbage' },
      ],
    });
    expect(entities.body.errors).toBeUndefined();
    expect(entities.body.data._entities).toEqual([null, null]);
  });

  it("answers another tenant's ids and representations with FORBIDDEN, never its data", async ({ auth, url }) => {
    const mango = await clientFor(auth, url, 'mango');
    const organization = await ok(mango, CREATE_ORGANIZATION, { input: { name: 'Mango secret org' } });
    await ok(mango, ADD_MEMBER, { input: { organizationId: organization.id, name: 'Mango secret member', email: 'secret@mango.example' } });
    const project = await ok(mango, CREATE_PROJECT, { input: { organizationId: organization.id, name: 'Mango secret project' } });
    const task = await ok(mango, CREATE_TASK, { input: { projectId: project.id, title: 'Mango secret task' } });
    const mangoBefore = JSON.stringify(await tenantView(mango, 'mango'));

    const avocado = await clientFor(auth, url, 'avocado');
    const avocadoBefore = JSON.stringify(await tenantView(avocado, 'avocado'));
    const attempts: [string, Record<string, unknown>][] = [
      [ADD_MEMBER, { input: { organizationId: organization.id, name: 'Spy', email: 'spy@example.com' } }],
      [CREATE_PROJECT, { input: { organizationId: organization.id, name: 'Spy project' } }],
      [BULK, { input: { organizationId: organization.id, names: ['Spy 1', 'Spy 2'] } }],
      [CREATE_TASK, { input: { projectId: project.id, title: 'Spy task' } }],
      [UPDATE_TASK, { id: task.id, status: 'DONE' }],
      [ENTITIES, { r: [{ __typename: 'Organization', id: organization.id }] }],
      [ENTITIES, { r: [{ __typename: 'Project', id: project.id }] }],
      [TENANT, { r: [{ __typename: 'Tenant', id: 'mango' }] }],
    ];
    for (const [query, variables] of attempts) {
      const response = await avocado(query, variables);
      expect(codes(response)).toEqual(['FORBIDDEN']);
      expect(JSON.stringify(response.body)).not.toMatch(/secret/i);
    }
    // The same uuids under the caller's own tenant prefix find nothing: rows are looked up by tenant too.
    const relabelled = (id: string) => id.replace('mango:', 'avocado:');
    const spoofed = await avocado(ENTITIES, {
      r: [
        { __typename: 'Organization', id: relabelled(organization.id) },
        { __typename: 'Project', id: relabelled(project.id) },
      ],
    });
    expect(spoofed.body.data._entities).toEqual([null, null]);
    expect(codes(await avocado(UPDATE_TASK, { id: relabelled(task.id), status: 'DONE' }))).toEqual(['NOT_FOUND']);

    expect(JSON.stringify(await tenantView(mango, 'mango'))).toBe(mangoBefore);
    expect(JSON.stringify(await tenantView(avocado, 'avocado'))).toBe(avocadoBefore);
  });

  it("looks a project and a task up by id for their own tenant only (the gateway's subscriptions read events through these)", async ({
    auth,
    url,
  }) => {
    const LOOKUP = `query($r: [_Any!]!, $project: ID!, $task: ID!) {
      _entities(representations: $r) { ... on Tenant { project(id: $project) { name taskCount } task(id: $task) { title status } } }
    }`;
    const avocado = await clientFor(auth, url, 'avocado');
    const organization = await ok(avocado, CREATE_ORGANIZATION, { input: { name: 'Lookup org' } });
    const project = await ok(avocado, CREATE_PROJECT, { input: { organizationId: organization.id, name: 'Lookup project' } });
    const task = await ok(avocado, CREATE_TASK, { input: { projectId: project.id, title: 'Lookup task' } });
    const avocadoTenant = [{ __typename: 'Tenant', id: 'avocado' }];
    const found = await avocado(LOOKUP, { r: avocadoTenant, project: project.id, task: task.id });
    expect(found.body.data._entities[0]).toEqual({
      project: { name: 'Lookup project', taskCount: 1 },
      task: { title: 'Lookup task', status: 'TODO' },
    });
    const missing = 'avocado:00000000-0000-4000-8000-000000000000';
    const none = await avocado(LOOKUP, { r: avocadoTenant, project: missing, task: 'garbage' });
    expect(none.body.data._entities[0]).toEqual({ project: null, task: null });
    const mango = await clientFor(auth, url, 'mango');
    const spied = await mango(LOOKUP, { r: [{ __typename: 'Tenant', id: 'mango' }], project: project.id, task: task.id });
    expect(codes(spied)).toContain('FORBIDDEN');
    expect(JSON.stringify(spied.body)).not.toContain('Lookup');
  });

  it('bulk-creates all projects or none, with one project.created event each', async ({ auth, url, databases }) => {
    const outbox = databases.asAdmin(databases.dedicatedUrl('mango'));
    const client = await clientFor(auth, url, 'mango');
    const organization = await ok(client, CREATE_ORGANIZATION, { input: { name: 'Bulk Org' } });
    await ok(client, CREATE_PROJECT, { input: { organizationId: organization.id, name: 'Existing' } });
    const totalCount = async () => {
      const response = await client(PAGE, { r: [{ __typename: 'Tenant', id: 'mango' }], first: 0 });
      return response.body.data._entities[0].projects.totalCount as number;
    };
    const before = await totalCount();
    const eventsBefore = (await outboxEvents(outbox, 'project.created')).length;

    const failures = [
      ['One', 'Two', '   ', 'Four'],
      ['One', 'Two', 'x'.repeat(201)],
      ['One', 'Two', 'One'],
      ['One', ' Two', 'Two '],
      ['One', 'Two', 'Existing', 'Four'],
    ];
    for (const names of failures) {
      const response = await client(BULK, { input: { organizationId: organization.id, names } });
      expect(codes(response)).toEqual(['BAD_USER_INPUT']);
      expect(response.body.errors?.[0]?.extensions).toMatchObject({ field: 'names' });
      expect(await totalCount()).toBe(before);
    }

    const names = Array.from({ length: 100 }, (_, i) => `Bulk ${String(99 - i).padStart(3, '0')}`);
    const created = await ok(client, BULK, { input: { organizationId: organization.id, names } });
    expect(created.map((p: { name: string }) => p.name)).toEqual(names);
    expect(new Set(created.map((p: { id: string }) => p.id)).size).toBe(100);
    expect(await totalCount()).toBe(before + 100);
    const events = (await outboxEvents(outbox, 'project.created')).slice(eventsBefore);
    expect(events.map((event) => event.entity_id).sort()).toEqual(created.map((p: { id: string }) => p.id).sort());
  });

  it("pages through the tenant's projects oldest first", async ({ auth, url }) => {
    const client = await clientFor(auth, url, 'avocado');
    const organization = await ok(client, CREATE_ORGANIZATION, { input: { name: 'Paging Org' } });
    const mine: string[] = [];
    for (const name of ['Page A', 'Page B', 'Page C', 'Page D', 'Page E']) {
      mine.push((await ok(client, CREATE_PROJECT, { input: { organizationId: organization.id, name } })).id);
    }
    const r = [{ __typename: 'Tenant', id: 'avocado' }];
    const seen: { id: string; name: string; createdAt: string }[] = [];
    let after: string | undefined;
    let totalCount = 0;
    for (;;) {
      const response = await client(PAGE, { r, first: 2, after });
      expect(response.body.errors).toBeUndefined();
      const page = response.body.data._entities[0].projects;
      totalCount = page.totalCount;
      expect(page.nodes.length).toBeLessThanOrEqual(2);
      seen.push(...page.nodes);
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toHaveLength(totalCount);
    expect(new Set(seen.map((p) => p.id)).size).toBe(totalCount);
    const times = seen.map((p) => Date.parse(p.createdAt));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    // The five just created are the newest, in the order they were made.
    expect(seen.slice(-5).map((p) => p.id)).toEqual(mine);

    expect(codes(await client(PAGE, { r, first: 101 }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await client(PAGE, { r, after: 'bm90LWEtY3Vyc29y' }))).toEqual(['BAD_USER_INPUT']);
  });

  it("pages the organizations, an organization's projects and a project's tasks after the id of the last one seen", async ({
    auth,
    url,
  }) => {
    const client = await clientFor(auth, url, 'mango');
    const organization = await ok(client, CREATE_ORGANIZATION, { input: { name: 'Nested Paging B' } });
    await ok(client, CREATE_ORGANIZATION, { input: { name: 'Nested Paging A' } });
    const projects: string[] = [];
    for (const name of ['Nested 1', 'Nested 2', 'Nested 3']) {
      projects.push((await ok(client, CREATE_PROJECT, { input: { organizationId: organization.id, name } })).id);
    }
    const tasks: string[] = [];
    for (const title of ['Step 1', 'Step 2', 'Step 3'])
      tasks.push((await ok(client, CREATE_TASK, { input: { projectId: projects[0], title } })).id);
    const pagesOf = async (query: string, variables: Record<string, unknown>, list: (data: any) => { id: string }[]) => {
      const pages: string[][] = [];
      let after: string | undefined;
      // Bounded: a cursor that does not move on would otherwise page forever.
      for (let round = 0; round < 20; round++) {
        const response = await client(query, { ...variables, after });
        expect(response.body.errors).toBeUndefined();
        const page = list(response.body.data).map((node) => node.id);
        if (page.length === 0) return pages;
        pages.push(page);
        after = page.at(-1);
      }
      return pages;
    };
    const NESTED = `query($r: [_Any!]!, $after: ID) { _entities(representations: $r) {
      ... on Organization { projects(first: 2, after: $after) { id } }
      ... on Project { tasks(first: 2, after: $after) { id } }
    } }`;
    expect(
      await pagesOf(NESTED, { r: [{ __typename: 'Organization', id: organization.id }] }, (data) => data._entities[0].projects),
    ).toEqual([projects.slice(0, 2), projects.slice(2)]);
    expect(await pagesOf(NESTED, { r: [{ __typename: 'Project', id: projects[0] }] }, (data) => data._entities[0].tasks)).toEqual([
      tasks.slice(0, 2),
      tasks.slice(2),
    ]);
    const ORGANIZATIONS = `query($r: [_Any!]!, $after: ID) { _entities(representations: $r) { ... on Tenant {
      organizations(first: 1, after: $after) { id name }
    } } }`;
    const r = [{ __typename: 'Tenant', id: 'mango' }];
    const everyOne = await client(ORGANIZATIONS.replace('first: 1', 'first: 100'), { r });
    const all = everyOne.body.data._entities[0].organizations.map((org: { id: string }) => org.id);
    const paged = await pagesOf(ORGANIZATIONS, { r }, (data) => data._entities[0].organizations);
    expect(paged.flat()).toEqual(all);
    expect(all).toContain(organization.id);
  });

  it('reads a page of 100 projects with counts, tasks and organizations in as many statements as a page of 5', async ({
    auth,
    url,
    metrics,
  }) => {
    const client = await clientFor(auth, url, 'avocado');
    const organizations = [];
    for (const name of ['Load Org 1', 'Load Org 2', 'Load Org 3']) {
      const organization = await ok(client, CREATE_ORGANIZATION, { input: { name } });
      await ok(client, ADD_MEMBER, {
        input: { organizationId: organization.id, name: 'Member', email: `m@${name.replaceAll(' ', '-')}.example` },
      });
      organizations.push(organization);
    }
    for (const [i, organization] of organizations.entries()) {
      const names = Array.from({ length: 40 }, (_, j) => `Load ${i}-${j}`);
      const projects = await ok(client, BULK, { input: { organizationId: organization.id, names } });
      for (const project of projects.slice(0, 3)) await ok(client, CREATE_TASK, { input: { projectId: project.id, title: 'Load task' } });
    }
    const r = [{ __typename: 'Tenant', id: 'avocado' }];
    const statementsFor = async (first: number) => {
      const before = metrics.queryCount();
      const response = await client(HEAVY_PAGE, { r, first });
      expect(response.body.errors).toBeUndefined();
      const nodes = response.body.data._entities[0].projects.nodes;
      expect(nodes).toHaveLength(first);
      return metrics.queryCount() - before;
    };
    const small = await statementsFor(5);
    expect(await statementsFor(100)).toBe(small);
    // The page, then one batch each for taskCount, tasks, organization and memberCount.
    expect(small % 5).toBe(0);

    // Down from the organizations too: one batch per field, whatever the number of organizations and projects.
    const organizationQuery = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Tenant {
      organizations { name memberCount projects { taskCount tasks { id } organization { id } } }
    } } }`;
    const before = metrics.queryCount();
    const response = await client(organizationQuery, { r });
    expect(response.body.errors).toBeUndefined();
    const found = response.body.data._entities[0].organizations;
    expect(found.length).toBeGreaterThanOrEqual(3);
    // The organizations with their member counts, the projects with their task counts, then tasks and organization.
    expect(metrics.queryCount() - before).toBe(4);
    const counts = found
      .filter((organization: { name: string }) => organization.name.startsWith('Load Org'))
      .map((organization: { memberCount: number }) => organization.memberCount);
    expect(counts).toEqual([1, 1, 1]);

    // Each organization's 40 projects, three of them with a task: counted with the projects, in two statements.
    const taskCounts = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Tenant {
      organizations { name projects(first: 100) { taskCount } }
    } } }`;
    const start = metrics.queryCount();
    const counted = await client(taskCounts, { r });
    expect(counted.body.errors).toBeUndefined();
    expect(metrics.queryCount() - start).toBe(2);
    const sums = counted.body.data._entities[0].organizations
      .filter((organization: { name: string }) => organization.name.startsWith('Load Org'))
      .map((organization: { projects: { taskCount: number }[] }) =>
        organization.projects.reduce((sum, project) => sum + project.taskCount, 0),
      );
    expect(sums).toEqual([3, 3, 3]);
  });
});
