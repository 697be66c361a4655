import { connect, createDatabaseRouter } from '@tenantgraph/database';
import { createMetrics, type SubgraphLimits } from '@tenantgraph/server-kit';
import { codes, graphql, recordingLogger, staticRegistry, subgraphTest, until } from '@tenantgraph/testkit';
import { sql } from 'kysely';
import { describe, expect } from 'vitest';
import type { Database } from '../src/database.ts';
import { createProjectServer, migrationsFolder } from '../src/server.ts';

/** Three levels of lists, each one unit of work (one transaction) of its own. */
const NESTED = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Tenant {
  organizations { name projects { name tasks { title } } }
} } }`;
const AVOCADO = { r: [{ __typename: 'Tenant', id: 'avocado' }] };

/**
 * The project subgraph over the file's databases with one connection per pool (so a test can
 * hold it) and a statement counter of its own.
 */
async function startProject(
  databases: { sharedUrl: string },
  verifier: Parameters<typeof createProjectServer>[0]['verifier'],
  limits: Partial<SubgraphLimits>,
) {
  const metrics = createMetrics('project');
  const logger = recordingLogger();
  const router = createDatabaseRouter<Database>({
    sharedUrl: databases.sharedUrl,
    registry: staticRegistry(),
    poolSize: 1,
    acquireTimeoutMs: 30_000,
    onQuery: metrics.countQuery,
  });
  const server = createProjectServer({ databases: router, verifier, logger, metrics, ready: async () => {}, limits });
  const url = `http://127.0.0.1:${await server.start(0, '127.0.0.1')}/graphql`;
  /** Takes the pool's only connection until `release()`: the next unit of work waits for it. */
  const holdConnection = async () => {
    const db = await router.forTenant('avocado');
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let held!: () => void;
    const holding = new Promise<void>((resolve) => {
      held = resolve;
    });
    const done = db.connection().execute(async () => {
      held();
      await released;
    });
    await holding;
    return async () => {
      release();
      await done;
    };
  };
  return { url, metrics, logger, holdConnection, stop: () => server.stop() };
}

/** The file's subgraph fixtures, plus avocado's rows: two organizations, two projects each, a task each. */
const it = subgraphTest({ service: 'project', migrationsFolder }).extend<{ seeded: true }>({
  seeded: [
    async ({ auth, databases }, use) => {
      await seed(databases, auth);
      await use(true);
    },
    { scope: 'file' },
  ],
});

async function seed(
  databases: { sharedUrl: string },
  auth: { verifier: Parameters<typeof createProjectServer>[0]['verifier']; token(tenant: string, scopes?: string[]): Promise<string> },
) {
  const project = await startProject(databases, auth.verifier, {});
  try {
    const token = await auth.token('avocado', ['projects:write']);
    const run = async (query: string, variables: Record<string, unknown>) => {
      const response = await graphql(project.url, { token, query, variables });
      expect(response.body.errors, JSON.stringify(response.body.errors)).toBeUndefined();
      return Object.values(response.body.data as Record<string, any>)[0];
    };
    for (const name of ['Alpha', 'Beta']) {
      const organization = await run('mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { id } }', { i: { name } });
      const projects = await run('mutation($i: BulkCreateProjectsInput!) { bulkCreateProjects(input: $i) { id } }', {
        i: { organizationId: organization.id, names: [`${name} one`, `${name} two`] },
      });
      for (const { id } of projects)
        await run('mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }', { i: { projectId: id, title: 'a task' } });
    }
    const full = await graphql(project.url, { token, query: NESTED, variables: AVOCADO });
    expect(full.body.errors).toBeUndefined();
    expect(full.body.data._entities[0].organizations).toHaveLength(2);
  } finally {
    await project.stop();
  }
}

describe('a request past its deadline stops working', () => {
  it('sends no SQL at all once the deadline passed while it waited for a connection', async ({ auth, databases, seeded }) => {
    expect(seeded).toBe(true);
    const project = await startProject(databases, auth.verifier, { deadlineMs: 500 });
    try {
      const token = await auth.token('avocado');
      const release = await project.holdConnection();
      const before = project.metrics.queryCount();
      const started = Date.now();
      const answer = graphql(project.url, { token, query: NESTED, variables: AVOCADO });
      // The deadline passes while the request waits for the connection the test holds.
      await until('the deadline has passed', () => Date.now() > started + 800);
      await release();
      const response = await answer;

      expect(response.status).toBe(200);
      expect(codes(response)).toEqual(['SERVICE_UNAVAILABLE']);
      expect(response.body.errors?.[0]?.message).toMatch(/deadline/);
      expect(project.metrics.queryCount()).toBe(before);
      expect(project.logger.lines).toContainEqual(
        expect.objectContaining({ message: 'request stopped before its answer', fields: expect.objectContaining({ reason: 'deadline' }) }),
      );
    } finally {
      await project.stop();
    }
  });

  it('cancels a statement blocked past the deadline at the deadline, and runs nothing below it', async ({ auth, databases, seeded }) => {
    expect(seeded).toBe(true);
    const project = await startProject(databases, auth.verifier, { deadlineMs: 1_500 });
    const admin = connect(databases.asAdmin(databases.sharedUrl), { max: 1 });
    try {
      const token = await auth.token('avocado');
      // The statements of the whole query when nothing is in its way: three units of work.
      const control = project.metrics.queryCount();
      expect((await graphql(project.url, { token, query: NESTED, variables: AVOCADO })).body.errors).toBeUndefined();
      const whole = project.metrics.queryCount() - control;

      // Another session holds the project table while the request runs.
      let unlock!: () => void;
      let locked!: () => void;
      const isLocked = new Promise<void>((resolve) => {
        locked = resolve;
      });
      const holding = admin.connection().execute(async (connection) => {
        await sql`begin`.execute(connection);
        await sql`lock table project in access exclusive mode`.execute(connection);
        locked();
        await new Promise<void>((resolve) => {
          unlock = resolve;
        });
        await sql`rollback`.execute(connection);
      });
      await isLocked;
      const before = project.metrics.queryCount();
      const started = performance.now();
      const response = await graphql(project.url, { token, query: NESTED, variables: AVOCADO });
      const elapsed = performance.now() - started;
      unlock();
      await holding;

      expect(codes(response)).toEqual(['SERVICE_UNAVAILABLE']);
      expect(response.body.errors?.[0]?.path).toEqual(['_entities', 0, 'organizations', 0, 'projects']);
      // Organizations were read, the projects statement was cancelled, tasks were never asked for
      // (the non-null lists carry the error up to the entity).
      expect(response.body.data._entities).toEqual([null]);
      const sent = project.metrics.queryCount() - before;
      expect(sent).toBeLessThan(whole);
      // statement_timeout was the time left (1.5 s), not the connection's 5 s.
      expect(elapsed).toBeLessThan(4_500);
    } finally {
      await admin.destroy();
      await project.stop();
    }
  });

  it('stops when the caller goes away: no SQL after the client closed the connection', async ({ auth, databases, seeded }) => {
    expect(seeded).toBe(true);
    const project = await startProject(databases, auth.verifier, { deadlineMs: 60_000 });
    try {
      const token = await auth.token('avocado');
      const release = await project.holdConnection();
      const before = project.metrics.queryCount();
      const executed = project.metrics.requestCount();
      const authenticated = () => project.logger.lines.filter((line) => line.level === 'child').length;
      const seen = authenticated();
      const caller = new AbortController();
      const answer = fetch(project.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: NESTED, variables: AVOCADO }),
        signal: caller.signal,
      }).catch((error: Error) => error);
      // The request is waiting for the connection when the caller (a gateway that timed out) leaves.
      await until('the request is authenticated and runs', () => authenticated() > seen);
      caller.abort();
      expect(await answer).toBeInstanceOf(Error);
      await until('the subgraph saw the caller go', () =>
        project.logger.lines.some((line) => line.message === 'request stopped before its answer' && line.fields?.reason === 'caller gone'),
      );
      await release();
      // Execution ends (its answer goes nowhere) without sending a statement.
      await until('the request has finished', () => project.metrics.requestCount() === executed + 1);
      expect(project.metrics.queryCount()).toBe(before);
    } finally {
      await project.stop();
    }
  });
});

describe('a subgraph caps the size of its answer', () => {
  it('replaces an answer over RESPONSE_MAX_BYTES with QUERY_TOO_EXPENSIVE and both sizes', async ({ auth, databases, seeded }) => {
    expect(seeded).toBe(true);
    const project = await startProject(databases, auth.verifier, { maxResponseBytes: 300 });
    try {
      const token = await auth.token('avocado');
      const small = await graphql(project.url, {
        token,
        query: '{ _entities(representations: [{ __typename: "Tenant", id: "avocado" }]) { __typename } }',
      });
      expect(small.body.errors).toBeUndefined();
      const response = await graphql(project.url, { token, query: NESTED, variables: AVOCADO });
      expect(response.status).toBe(200);
      expect(response.body.data).toBeNull();
      expect(codes(response)).toEqual(['QUERY_TOO_EXPENSIVE']);
      expect(response.body.errors?.[0]?.extensions).toMatchObject({ limit: 300, cost: expect.any(Number) });
      expect(response.body.errors?.[0]?.message).toMatch(/over this service's limit of 300 bytes/);
    } finally {
      await project.stop();
    }
  });
});
