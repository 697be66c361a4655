import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ApolloGateway } from '@apollo/gateway';
import { codes, graphql } from '@tenantgraph/testkit';
import { type DocumentNode, type FieldDefinitionNode, Kind, type ObjectTypeDefinitionNode, parse, print } from 'graphql';
import { describe, expect } from 'vitest';
import { composeFromConfig } from '../../../supergraph/src/compose-lib.ts';
import { loadSupergraphConfig } from '../../../supergraph/src/supergraph-config.ts';
import { staticSupergraph, supergraphForGateway, withAccessPolicy } from '../src/server.ts';
import { stackTest as it } from './stack.ts';

const SUBGRAPHS = ['tenant', 'product', 'order', 'project'] as const;
const COMMITTED = readFileSync(new URL('../../../supergraph/supergraph.graphql', import.meta.url), 'utf8');
const ALL_SCOPES = ['tenant:admin', 'products:write', 'orders:write', 'projects:write'];

/** Every mutation of a subgraph, from its own SDL, with the scope its `@requiresScopes` names. */
function mutationsOf(subgraph: (typeof SUBGRAPHS)[number]) {
  const sdl = parse(readFileSync(new URL(`../../${subgraph}/schema.graphql`, import.meta.url), 'utf8'));
  const objects = new Set(sdl.definitions.flatMap((d) => (d.kind === Kind.OBJECT_TYPE_DEFINITION ? [d.name.value] : [])));
  const mutation = sdl.definitions.find(
    (d): d is ObjectTypeDefinitionNode => d.kind === Kind.OBJECT_TYPE_DEFINITION && d.name.value === 'Mutation',
  );
  const fields = mutation?.fields ?? [];
  return fields.map((field) => ({ subgraph, name: field.name.value, scope: scopeOf(field), document: operationFor(field, objects) }));
}

function scopeOf(field: FieldDefinitionNode): string {
  const directive = field.directives?.find((d) => d.name.value === 'requiresScopes');
  const value = directive?.arguments?.[0]?.value;
  const first = value?.kind === Kind.LIST && value.values[0]?.kind === Kind.LIST ? value.values[0].values[0] : undefined;
  if (first?.kind !== Kind.STRING) throw new Error(`Mutation.${field.name.value} has no @requiresScopes`);
  return first.value;
}

/** `mutation ($a: T!) { field(a: $a) { __typename } }`: valid in the subgraph and in the supergraph. */
function operationFor(field: FieldDefinitionNode, objects: Set<string>): string {
  const args = field.arguments ?? [];
  const variables = args.length > 0 ? `(${args.map((arg) => `$${arg.name.value}: ${print(arg.type)}`).join(', ')})` : '';
  const call = args.length > 0 ? `(${args.map((arg) => `${arg.name.value}: $${arg.name.value}`).join(', ')})` : '';
  let type = field.type;
  while (type.kind !== Kind.NAMED_TYPE) type = type.type;
  return `mutation${variables} { ${field.name.value}${call}${objects.has(type.name.value) ? ' { __typename }' : ''} }`;
}

const MUTATIONS = SUBGRAPHS.flatMap(mutationsOf);

describe('auth directives in the SDL', () => {
  it('declares a scope on every mutation of every subgraph', () => {
    expect(MUTATIONS.map((m) => `${m.subgraph}:${m.name}:${m.scope}`)).toEqual([
      'tenant:updateTenant:tenant:admin',
      'product:createProduct:products:write',
      'order:placeOrder:orders:write',
      'order:cancelOrder:orders:write',
      ...['createOrganization', 'addMember', 'createProject', 'bulkCreateProjects', 'createTask', 'updateTaskStatus'].map(
        (name) => `project:${name}:projects:write`,
      ),
    ]);
  });

  it('refuses every mutation without its scope at the gateway, naming the field, before any subgraph is called', async ({ stack }) => {
    for (const mutation of MUTATIONS) {
      const others = ALL_SCOPES.filter((scope) => scope !== mutation.scope);
      for (const scopes of [[], others]) {
        const token = await stack.auth.token('avocado', scopes);
        const before = SUBGRAPHS.map((name) => stack.metrics[name].requestCount());
        const response = await graphql(stack.gatewayUrl, { token, query: mutation.document });
        const where = `${mutation.name} with [${scopes.join(' ')}]`;
        expect(codes(response), where).toEqual(['FORBIDDEN']);
        expect(response.body.errors?.[0]?.message, where).toBe(`${mutation.name} needs the scope "${mutation.scope}".`);
        expect(response.body.errors?.[0]?.path, where).toEqual([mutation.name]);
        expect(response.body.data, where).toBeUndefined();
        expect(
          SUBGRAPHS.map((name) => stack.metrics[name].requestCount()),
          where,
        ).toEqual(before);
      }
      // With its scope the same document gets past the policy (and fails on its missing variables).
      const scoped = await stack.auth.token('avocado', [mutation.scope]);
      const allowed = await graphql(stack.gatewayUrl, { token: scoped, query: mutation.document });
      expect(codes(allowed), mutation.name).not.toContain('FORBIDDEN');
    }
  });

  it('refuses every mutation without its scope at its own subgraph, called directly', async ({ stack }) => {
    for (const mutation of MUTATIONS) {
      const url = stack.subgraphUrls[mutation.subgraph];
      const token = await stack.auth.token(
        'avocado',
        ALL_SCOPES.filter((scope) => scope !== mutation.scope),
      );
      const response = await graphql(url, { token, query: mutation.document });
      expect(codes(response), mutation.name).toEqual(['FORBIDDEN']);
      expect(response.body.errors?.[0]?.path, mutation.name).toEqual([mutation.name]);

      const allowed = await graphql(url, { token: await stack.auth.token('avocado', [mutation.scope]), query: mutation.document });
      expect(codes(allowed), mutation.name).not.toContain('FORBIDDEN');
    }
  });

  it('checks fragments and aliases too, and names the aliased path', async ({ stack }) => {
    const token = await stack.auth.token('avocado', ['orders:write']);
    const response = await graphql(stack.gatewayUrl, {
      token,
      query: 'mutation { ...Write } fragment Write on Mutation { renamed: updateTenant(input: { name: "x" }) { name } }',
    });
    expect(codes(response)).toEqual(['FORBIDDEN']);
    expect(response.body.errors?.[0]).toMatchObject({ message: 'renamed needs the scope "tenant:admin".', path: ['renamed'] });
  });
});

describe('the committed supergraph', () => {
  const loadedBy = async (gateway: ApolloGateway) => {
    try {
      return await gateway.load();
    } finally {
      await gateway.stop();
    }
  };

  it('is refused by plain @apollo/gateway for its for: SECURITY links, and loads through our loader', async () => {
    expect(COMMITTED).toContain('@link(url: "https://specs.apollo.dev/requiresScopes/v0.1", for: SECURITY)');
    await expect(loadedBy(new ApolloGateway({ supergraphSdl: COMMITTED }))).rejects.toThrow(/for: SECURITY but is unsupported/);

    const access = withAccessPolicy(staticSupergraph(COMMITTED));
    const { schema } = await loadedBy(new ApolloGateway({ supergraphSdl: access.hook }));
    expect(Object.keys(schema.getMutationType()?.getFields() ?? {})).toHaveLength(MUTATIONS.length);
    expect(access.policy().get('Mutation.createProduct')).toEqual({ authenticated: false, scopes: [[['products:write']]] });
    expect(access.policy().get('Query.tenant')).toEqual({ authenticated: true, scopes: [] });
  });

  it('differs from what the gateway loads only in the purpose of the two security links', () => {
    const loadable: DocumentNode = parse(supergraphForGateway(COMMITTED).supergraphSdl);
    const strip = (sdl: string) => print(parse(sdl)).replace(/, for: SECURITY/g, '');
    expect(print(loadable)).toBe(strip(COMMITTED));
    expect(print(loadable)).toContain('@link(url: "https://specs.apollo.dev/authenticated/v0.1")');
  });

  it('composes unchanged from the subgraph files with @apollo/composition', async () => {
    const config = await loadSupergraphConfig(fileURLToPath(new URL('../../../supergraph/supergraph.yaml', import.meta.url)));
    const outcome = await composeFromConfig(config);
    expect(outcome.ok).toBe(true);
    expect(outcome.ok && outcome.supergraphSdl).toBe(COMMITTED);
  });
});
