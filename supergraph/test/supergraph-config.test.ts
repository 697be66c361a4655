import { describe, expect, it } from 'vitest';
import { parseYamlMap, toSupergraphConfig } from '../src/supergraph-config.ts';

const CONFIG = `# comment
federation_version: "=2.14.4"
subgraphs:
  tenant:
    routing_url: http://localhost:4001/graphql   # trailing comment
    schema:
      file: ../services/tenant/schema.graphql
  product:
    routing_url: 'http://localhost:4002/graphql#anchor'
    schema:
      file: ../services/product/schema.graphql
`;

describe('supergraph.yaml', () => {
  it('reads rover-style subgraphs with schema paths resolved against the config folder', () => {
    const config = toSupergraphConfig(parseYamlMap(CONFIG), '/repo/supergraph');

    expect(config).toEqual({
      federationVersion: '=2.14.4',
      subgraphs: [
        { name: 'tenant', routingUrl: 'http://localhost:4001/graphql', schemaFile: '/repo/services/tenant/schema.graphql' },
        { name: 'product', routingUrl: 'http://localhost:4002/graphql#anchor', schemaFile: '/repo/services/product/schema.graphql' },
      ],
    });
  });

  it('rejects flow style with the line number instead of misreading it', () => {
    expect(() => parseYamlMap('subgraphs:\n  a:\n    schema: { file: a.graphql }\n')).toThrow(/line 3/);
  });

  it('rejects a subgraph that is not read from a file', () => {
    const map = parseYamlMap('subgraphs:\n  a:\n    routing_url: http://a\n    schema:\n      subgraph_url: http://a\n');
    expect(() => toSupergraphConfig(map, '/')).toThrow(/schema.file/);
  });

  it('rejects duplicate keys', () => {
    expect(() => parseYamlMap('a: 1\na: 2\n')).toThrow(/duplicate key "a"/);
  });
});
