import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { listSizesOf } from '@tenantgraph/server-kit';
import { describe, expect, it } from 'vitest';
import { DEFAULT_QUERY_LIMITS, queryLimits } from '../limits.ts';
import { lookupVariables, type PreparedSubscription, prepareSubscription, subscriptionResult } from './operation.ts';

// The same build of graphql the gateway's schema comes from (see operation.ts).
const { buildSchema, parse } = createRequire(import.meta.url)('graphql') as typeof import('graphql');
const read = (file: string) => readFileSync(new URL(`../../../../supergraph/${file}`, import.meta.url), 'utf8');
const schema = buildSchema(read('api-schema.graphql'));
const listSizes = listSizesOf(parse(read('supergraph.graphql')));
const { validationRules } = queryLimits(DEFAULT_QUERY_LIMITS, { hideSuggestions: false });

const prepare = (query: string, { variables, budget = 25_000, operationName }: PrepareOptions = {}) =>
  prepareSubscription({ schema, query, variables, operationName, validationRules, maxTokens: 2_000, listSizes, budget });
type PrepareOptions = { variables?: Record<string, unknown>; budget?: number; operationName?: string };

const codes = (result: ReturnType<typeof prepare>) => ('document' in result ? [] : result.map((error) => error.extensions.code as string));

describe('a subscription prepared for the gateway', () => {
  it('becomes a lookup of the entity by id under the tenant, with its alias, variables and fragments', () => {
    const prepared = prepare(
      `subscription Orders($withLines: Boolean!) { placed: orderPlaced { number ...Lines @include(if: $withLines) } }
       fragment Lines on Order { lines { product { ...Named } } }
       fragment Named on Product { name unitsOrdered }
       query Unrelated { tenant { name } }`,
      { variables: { withLines: true }, operationName: 'Orders' },
    );
    if (!('document' in prepared)) throw new Error(JSON.stringify(prepared));
    expect(prepared.eventType).toBe('order.placed');
    expect(prepared.responseKey).toBe('placed');
    expect(prepared.lookup.replace(/\s+/g, ' ')).toBe(
      'query SubscriptionEvent($subscriptionEntityId: ID!, $withLines: Boolean!) { tenant { entity: order(id: $subscriptionEntityId) { number ...Lines @include(if: $withLines) } } } fragment Lines on Order { lines { product { ...Named } } } fragment Named on Product { name unitsOrdered }',
    );
    expect(lookupVariables(prepared, 'avocado:1')).toEqual({ withLines: true, subscriptionEntityId: 'avocado:1' });
  });

  it("names no tenant: there is no argument for one, and the lookup reads the token's tenant", () => {
    expect(codes(prepare('subscription { projectCreated(tenant: "mango") { name } }'))).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    const prepared = prepare('subscription { taskStatusChanged { title status } }') as PreparedSubscription;
    expect(prepared.lookup).toContain('tenant {');
    expect(prepared.lookup).toContain('entity: task(id: $subscriptionEntityId)');
  });

  it('refuses queries, mutations, several fields, a reserved variable and bad syntax', () => {
    expect(codes(prepare('{ tenant { name } }'))).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(codes(prepare('subscription { projectCreated { name } orderPlaced { number } }'))).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(codes(prepare('subscription($subscriptionEntityId: ID) { projectCreated { id @skip(if: false) } }'))).toContain(
      'GRAPHQL_VALIDATION_FAILED',
    );
    expect(codes(prepare('subscription { projectCreated { name }'))).toEqual(['GRAPHQL_PARSE_FAILED']);
  });

  it('holds the lookup to the limits of any query: depth, and the cost budget of the plan', () => {
    // Depth 10 here (the default limit), 12 as the lookup reads it under tenant { entity }: refused, as that query would be.
    const deep = `subscription { projectCreated { organization { projects { organization { projects { organization { projects { organization { projects { name } } } } } } } } } }`;
    expect(codes(prepare(deep))).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    const wide = 'subscription { projectCreated { organization { projects(first: 100) { tasks(first: 100) { title } } } } }';
    expect(codes(prepare(wide, { budget: 1_000 }))).toEqual(['QUERY_TOO_EXPENSIVE']);
    expect(codes(prepare(wide, { budget: 25_000 }))).toEqual([]);
  });

  it("answers with the entity under the client's key, errors moved below it, and NOT_FOUND for an entity gone", () => {
    const prepared = prepare('subscription { p: projectCreated { name taskCount } }') as PreparedSubscription;
    expect(subscriptionResult(prepared, { data: { tenant: { entity: { name: 'P', taskCount: 0 } } } })).toEqual({
      data: { p: { name: 'P', taskCount: 0 } },
    });
    const partial = subscriptionResult(prepared, {
      data: { tenant: { entity: { name: 'P', taskCount: null } } },
      errors: [{ message: 'no', path: ['tenant', 'entity', 'taskCount'] }],
    });
    expect(partial.errors).toEqual([{ message: 'no', path: ['p', 'taskCount'] }]);
    const gone = subscriptionResult(prepared, { data: { tenant: { entity: null } } });
    expect(gone.data).toBeNull();
    expect(gone.errors?.[0]).toMatchObject({ extensions: { code: 'NOT_FOUND' } });
  });
});
