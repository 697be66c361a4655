import { buildSchema, type OperationDefinitionNode, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { ASSUMED_LIST_SIZE, checkCost, estimateCost, listSizesOf, MUTATION_COST } from './cost.ts';

const SDL = `
directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION
scalar _Any
union _Entity = Tenant | Project
type Query {
  tenant: Tenant!
  _entities(representations: [_Any!]!): [_Entity]!
}
type Mutation { createProjects(names: [String!]!): [Project!]! @listSize(assumedSize: 100) }
type Tenant {
  id: ID!
  organizations(first: Int = 20, after: ID): [Organization!]! @listSize(slicingArguments: ["first"], requireOneSlicingArgument: false)
  projects(first: Int = 20, after: String): ProjectConnection! @listSize(slicingArguments: ["first"], sizedFields: ["nodes"], requireOneSlicingArgument: false)
  tags: [String!]!
  undeclared: [Project!]!
}
type Organization { id: ID! name: String! projects(first: Int = 20): [Project!]! @listSize(slicingArguments: ["first"], requireOneSlicingArgument: false) }
type Project { id: ID! name: String! organization: Organization! lines: [Line!]! @listSize(assumedSize: 7) }
type Line { quantity: Int! }
type ProjectConnection { nodes: [Project!]! totalCount: Int! }
`;
const schema = buildSchema(SDL);
const listSizes = listSizesOf(parse(SDL));

const estimate = (query: string, variables?: Record<string, unknown>) => {
  const document = parse(query);
  const operation = document.definitions.find((definition) => definition.kind === 'OperationDefinition') as OperationDefinitionNode;
  return estimateCost({ schema, document, operation, variables, listSizes });
};
const cost = (query: string, variables?: Record<string, unknown>) => estimate(query, variables).cost;

describe('estimateCost', () => {
  it('reads every @listSize of an SDL document by Type.field', () => {
    expect(listSizes.get('Tenant.organizations')).toEqual({ slicingArguments: ['first'] });
    expect(listSizes.get('Tenant.projects')).toEqual({ slicingArguments: ['first'], sizedFields: ['nodes'] });
    expect(listSizes.get('Project.lines')).toEqual({ assumedSize: 7 });
    expect(listSizes.has('Tenant.tags')).toBe(false);
  });

  it('counts one per object and nothing for scalars', () => {
    expect(cost('{ tenant { id } }')).toBe(1);
    expect(cost('{ tenant { id tags } }')).toBe(1);
  });

  it('multiplies by a literal first', () => {
    // tenant 1 + 3 organizations × (1 + 2 projects)
    expect(cost('{ tenant { organizations(first: 3) { name projects(first: 2) { name } } } }')).toBe(1 + 3 * (1 + 2));
  });

  it('multiplies by first given as a variable, and by the variable default when it is not sent', () => {
    const query = 'query($n: Int) { tenant { organizations(first: $n) { projects(first: $n) { id } } } }';
    expect(cost(query, { n: 60 })).toBe(1 + 60 * (1 + 60));
    expect(cost('query($n: Int = 4) { tenant { organizations(first: $n) { id } } }')).toBe(1 + 4);
    expect(cost('query($n: Int = 4) { tenant { organizations(first: $n) { id } } }', { n: 9 })).toBe(1 + 9);
  });

  it("uses the argument's default when first is absent, null, or a variable without a value", () => {
    expect(cost('{ tenant { organizations { id } } }')).toBe(1 + 20);
    expect(cost('{ tenant { organizations(first: null) { id } } }')).toBe(1 + 20);
    expect(cost('query($n: Int) { tenant { organizations(first: $n) { id } } }', {})).toBe(1 + 20);
  });

  it('sizes the nodes of a connection by its first, not the connection itself', () => {
    expect(cost('{ tenant { projects(first: 5) { totalCount nodes { id } } } }')).toBe(1 + 1 + 5);
    expect(cost('{ tenant { projects { nodes { lines { quantity } } } } }')).toBe(1 + 1 + 20 * (1 + 7));
  });

  it('counts an unpaged list at its declared size, and an undeclared one at the largest page', () => {
    expect(cost('{ tenant { projects(first: 1) { nodes { lines { quantity } } } } }')).toBe(1 + 1 + 1 * (1 + 7));
    expect(cost('{ tenant { undeclared { id } } }')).toBe(1 + ASSUMED_LIST_SIZE);
  });

  it('counts fragments where they are spread, named and inline, with the sizes around them', () => {
    const query = `
      query($n: Int!) { tenant { organizations(first: $n) { ...Org } } }
      fragment Org on Organization { name projects(first: 2) { ... on Project { organization { id } } } }
    `;
    expect(cost(query, { n: 10 })).toBe(1 + 10 * (1 + 2 * (1 + 1)));
    const connection = '{ tenant { projects(first: 4) { ...Nodes } } } fragment Nodes on ProjectConnection { nodes { id } }';
    expect(cost(connection)).toBe(1 + 1 + 4);
  });

  it('costs a fragment once however often it is spread, and stays linear in the document', () => {
    // 2^40 paths if fragments were expanded naively (this test would never end); each is costed once.
    const fragments = Array.from({ length: 40 }, (_, i) => `fragment F${i} on Tenant { ...F${i + 1} ...F${i + 1} }`).join('\n');
    const query = `{ tenant { ...F0 } } ${fragments} fragment F40 on Tenant { organizations(first: 1) { id } }`;
    expect(cost(query)).toBe(1 + 2 ** 40);
  });

  it('counts _entities by the representations it is given, literal or variable', () => {
    const query = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Tenant { organizations(first: 2) { id } } } }';
    const representations = Array.from({ length: 50 }, () => ({ __typename: 'Tenant', id: 'avocado' }));
    expect(cost(query, { r: representations })).toBe(50 * (1 + 2));
    expect(
      cost(
        '{ _entities(representations: [{ __typename: "Tenant", id: "a" }, { __typename: "Tenant", id: "b" }]) { ... on Tenant { id } } }',
      ),
    ).toBe(2);
  });

  it('adds a fixed cost per mutation field on top of what it returns', () => {
    expect(cost('mutation { createProjects(names: ["a"]) { id } }')).toBe(MUTATION_COST + 100);
  });

  it("measures depth with fragments flattened and ignores __typename's cost", () => {
    const result = estimate('{ tenant { __typename ...T } } fragment T on Tenant { organizations { projects { organization { id } } } }');
    expect(result.depth).toBe(5);
    expect(result.cost).toBe(1 + 20 * (1 + 20 * (1 + 1)));
  });

  it('refuses nothing itself: a huge nesting is a huge number, not an overflow', () => {
    const nine =
      '{ tenant { organizations { projects { organization { projects { organization { projects { organization { projects { id name } } } } } } } } } }';
    expect(estimate(nine).cost).toBeGreaterThan(1_000_000);
    expect(Number.isSafeInteger(estimate(nine).cost)).toBe(true);
  });
});

describe('checkCost', () => {
  it("estimates the same operation again for other variables and other list sizes, never from another's estimate", () => {
    const document = parse('query($n: Int) { tenant { organizations(first: $n) { id } undeclared { id } } }');
    const operation = document.definitions[0] as OperationDefinitionNode;
    const check = (variables: Record<string, unknown>, sizes = listSizes) =>
      checkCost({ schema, document, operation, variables, listSizes: sizes }, { budget: 1_000_000 }).cost;
    const five = check({ n: 5 });
    const fifty = check({ n: 50 });
    expect(fifty).toBeGreaterThan(five);
    expect(check({ n: 5 })).toBe(five);
    // Another supergraph's list sizes: `undeclared` now counts 7, not ASSUMED_LIST_SIZE.
    const declared = new Map([...listSizes, ['Tenant.undeclared', { assumedSize: 7 }]]);
    expect(check({ n: 5 }, declared)).toBe(five - ASSUMED_LIST_SIZE + 7);
    expect(() => checkCost({ schema, document, operation, variables: { n: 5 }, listSizes }, { budget: five - 1 })).toThrow();
  });
});
