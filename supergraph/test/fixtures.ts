import type { CheckInput } from '../src/check-lib.ts';
import { composeSubgraphs, type SubgraphSource } from '../src/compose-lib.ts';

const LINK = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable"])';

/** The tenant subgraph of the fixtures: owns the Tenant entity. */
export function tenantSubgraph(extraTenantFields = ''): SubgraphSource {
  return {
    name: 'tenant',
    url: 'http://localhost:4001/graphql',
    sdl: `${LINK}
type Query {
  tenant: Tenant!
}
type Tenant @key(fields: "id") {
  id: ID!
  name: String!
  ${extraTenantFields}
}
`,
  };
}

/** The catalogue subgraph of the fixtures: extends Tenant with products. */
export function catalogSubgraph(options: { productFields?: string; productsArgs?: string; tenantFields?: string } = {}): SubgraphSource {
  const productFields = options.productFields ?? 'sku: String!\n  name: String!';
  return {
    name: 'catalog',
    url: 'http://localhost:4002/graphql',
    sdl: `${LINK}
type Tenant @key(fields: "id") {
  id: ID!
  products${options.productsArgs ?? '(first: Int = 20)'}: [Product!]!
  ${options.tenantFields ?? ''}
}
type Product @key(fields: "id") {
  id: ID!
  ${productFields}
}
`,
  };
}

/** The committed state of a repository whose outputs were composed from `subgraphs`. */
export function committedState(subgraphs: SubgraphSource[]): { supergraphSdl: string; apiSchemaSdl: string } {
  const outcome = composeSubgraphs(subgraphs);
  if (!outcome.ok) throw new Error(`fixture does not compose: ${outcome.errors.map((e) => e.message).join('; ')}`);
  return { supergraphSdl: outcome.supergraphSdl, apiSchemaSdl: outcome.apiSchemaSdl };
}

/** A check of `changed` subgraphs against a base composed from `base`, committed files recomposed from `changed`. */
export function inputFor(base: SubgraphSource[], changed: SubgraphSource[], accepted: CheckInput['accepted'] = []): CheckInput {
  return {
    subgraphs: changed,
    committed: committedState(changed),
    base: { label: 'fixture base', apiSchemaSdl: committedState(base).apiSchemaSdl },
    accepted,
  };
}
