import { createLogger } from '@tenantgraph/core';
import { connect, withTenant } from '@tenantgraph/database';
import { createMetrics } from '@tenantgraph/server-kit';
import { codes, graphql, subgraphTest } from '@tenantgraph/testkit';
import { sql } from 'kysely';
import { describe, expect } from 'vitest';
import type { Database } from '../src/database.ts';
import { createTenantServer, migrationsFolder } from '../src/server.ts';

const registryToken = 'registry-token-for-tests-0123456789';

const it = subgraphTest({ service: 'tenant', migrationsFolder, dedicatedTenants: [] }).extend<{ url: string }>({
  url: [
    async ({ auth, databases }, use) => {
      const db = connect<Database>(databases.sharedUrl);
      const demo = [
        ['avocado', 'Avocado Inc', 'PRO'],
        ['mango', 'Mango Inc', 'ENTERPRISE'],
      ] as const;
      for (const [id, name, plan] of demo) {
        await withTenant(db, id, (trx) => trx.insertInto('tenant').values({ id, slug: id, name, plan }).execute());
      }
      const logger = createLogger({ service: 'tenant' }, 'silent');
      const server = createTenantServer({ db, verifier: auth.verifier, logger, metrics: createMetrics('tenant'), registryToken });
      const port = await server.start(0, '127.0.0.1');
      await use(`http://127.0.0.1:${port}`);
      await server.stop();
    },
    { scope: 'file' },
  ],
});

describe('tenant subgraph', () => {
  it('answers the tenant and the viewer named by the token', async ({ auth, url: base }) => {
    const token = await auth.token('avocado', ['products:write'], { subject: 'ada' });
    const { status, body } = await graphql(`${base}/graphql`, {
      token,
      query: '{ tenant { id slug name plan createdAt } viewer { id scopes tenant { id } } }',
    });
    expect(status).toBe(200);
    expect(body.data.tenant).toMatchObject({ id: 'avocado', slug: 'avocado', name: 'Avocado Inc', plan: 'PRO' });
    expect(body.data.tenant.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(body.data.viewer).toEqual({ id: 'ada', scopes: ['products:write'], tenant: { id: 'avocado' } });
  });

  it('answers 401 without a valid token, before reading the body', async ({ auth, url: base }) => {
    const none = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    expect(none.status).toBe(401);
    expect(((await none.json()) as any).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    const forged = await graphql(`${base}/graphql`, { token: `${await auth.token('avocado')}x`, query: '{ tenant { id } }' });
    expect(forged.status).toBe(401);
  });

  it('answers 403 UNKNOWN_TENANT for a valid token of an unregistered tenant', async ({ auth, url: base }) => {
    const response = await graphql(`${base}/graphql`, { token: await auth.token('papaya'), query: '{ tenant { id } }' });
    expect(response.status).toBe(403);
    expect(codes(response)).toEqual(['UNKNOWN_TENANT']);
  });

  it('refuses a representation of another tenant with FORBIDDEN and none of its fields', async ({ auth, url: base }) => {
    const response = await graphql(`${base}/graphql`, {
      token: await auth.token('avocado'),
      query: 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Tenant { id name } } }',
      variables: { r: [{ __typename: 'Tenant', id: 'mango' }] },
    });
    expect(codes(response)).toEqual(['FORBIDDEN']);
    expect(JSON.stringify(response.body)).not.toContain('Mango');
  });

  it("renames only the caller's tenant, and only with tenant:admin", async ({ auth, url: base }) => {
    const mutation = 'mutation($name: String!) { updateTenant(input: { name: $name }) { id name } }';
    const reader = await graphql(`${base}/graphql`, { token: await auth.token('mango'), query: mutation, variables: { name: 'X' } });
    expect(codes(reader)).toEqual(['FORBIDDEN']);
    const admin = await auth.token('mango', ['tenant:admin']);
    const empty = await graphql(`${base}/graphql`, { token: admin, query: mutation, variables: { name: '   ' } });
    expect(codes(empty)).toEqual(['BAD_USER_INPUT']);
    const renamed = await graphql(`${base}/graphql`, { token: admin, query: mutation, variables: { name: 'Mango Group' } });
    expect(renamed.body.data.updateTenant).toEqual({ id: 'mango', name: 'Mango Group' });
    const avocado = await graphql(`${base}/graphql`, { token: await auth.token('avocado'), query: '{ tenant { name } }' });
    expect(avocado.body.data.tenant.name).toBe('Avocado Inc');
  });

  it('publishes the registry only to holders of the registry token', async ({ url: base }) => {
    expect((await fetch(`${base}/internal/tenants`)).status).toBe(401);
    const listed = await fetch(`${base}/internal/tenants`, { headers: { authorization: `Bearer ${registryToken}` } });
    const { tenants } = (await listed.json()) as { tenants: { id: string }[] };
    expect(tenants.map((tenant: { id: string }) => tenant.id)).toEqual(['avocado', 'mango']);
  });

  it('shows one tenant to a query that forgets its where clause (row-level security)', async ({ databases }) => {
    const db = connect<Database>(databases.sharedUrl);
    try {
      const rows = await withTenant(db, 'avocado', (trx) => trx.selectFrom('tenant').select('id').execute());
      expect(rows).toEqual([{ id: 'avocado' }]);
      const noTenant = await sql<{ n: number }>`select count(*)::int as n from tenant`.execute(db);
      expect(noTenant.rows[0]?.n).toBe(0);
    } finally {
      await db.destroy();
    }
  });
});
