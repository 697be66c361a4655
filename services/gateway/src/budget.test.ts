import { readFileSync } from 'node:fs';
import { estimateCost, listSizesOf } from '@tenantgraph/server-kit';
import { buildSchema, Kind, type OperationDefinitionNode, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { DEFAULT_QUERY_BUDGETS } from './budget.ts';

const read = (file: string) => readFileSync(new URL(`../../../supergraph/${file}`, import.meta.url), 'utf8');
// Sizes are declared in the supergraph; the client schema (composed beside it) is what requests are checked against.
const listSizes = listSizesOf(parse(read('supergraph.graphql')));
const schema = buildSchema(read('api-schema.graphql'));

const cost = (query: string, variables?: Record<string, unknown>) => {
  const document = parse(query);
  const operation = document.definitions.find((definition) => definition.kind === Kind.OPERATION_DEFINITION) as OperationDefinitionNode;
  return estimateCost({ schema, document, operation, variables, listSizes }).cost;
};

/** The contract's dashboard, as `pnpm bench` sends it. */
const DASHBOARD = `query Dashboard($first: Int!) {
  tenant {
    id name plan
    products(first: $first) { totalCount nodes { id sku name priceCents stock unitsOrdered } }
    orders(first: $first) { totalCount nodes { id number status totalCents lines { quantity unitPriceCents product { id name } } } }
    organizations { id name memberCount projects { id name taskCount } }
  }
}`;

describe('the committed supergraph and the plan budgets', () => {
  it('bounds every list: a slicing argument, a declared size, or the nodes of a sized connection', () => {
    const sized = new Set([...listSizes.values()].flatMap((size) => size.sizedFields ?? []));
    const unbounded: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__') || !('getFields' in type) || !('getInterfaces' in type)) continue;
      for (const field of Object.values(type.getFields())) {
        if (!String(field.type).includes('[')) continue;
        const declared = listSizes.get(`${type.name}.${field.name}`);
        const bounded = declared?.assumedSize !== undefined || (declared?.slicingArguments?.length ?? 0) > 0 || sized.has(field.name);
        if (!bounded) unbounded.push(`${type.name}.${field.name}`);
      }
    }
    expect(unbounded).toEqual([]);
  });

  it('lets the dashboard through every plan at the default page size, with room', () => {
    const dashboard = cost(DASHBOARD, { first: 20 });
    expect(dashboard).toBe(4_463);
    for (const budget of Object.values(DEFAULT_QUERY_BUDGETS)) expect(dashboard).toBeLessThan(budget * 0.5);
  });

  it("puts issue 9's depth-9 query, and its first: $n variant at n = 60, at least 50 times over every plan", () => {
    const nine =
      '{ tenant { organizations { projects { organization { projects { organization { projects { organization { projects { id name } } } } } } } } } }';
    const variant = `query($n: Int) { tenant { organizations(first: $n) { projects(first: $n) { organization { projects(first: $n) {
      organization { projects(first: $n) { organization { projects(first: $n) { id name } } } } } } } } } }`;
    for (const estimate of [cost(nine), cost(variant, { n: 60 })]) {
      expect(estimate).toBeGreaterThan(50 * DEFAULT_QUERY_BUDGETS.ENTERPRISE);
    }
  });
});
