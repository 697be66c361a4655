import { describe, expect, it } from 'vitest';
import { mergeResolvers } from './resolvers.ts';
import { DateTime } from './subgraph.ts';

describe('mergeResolvers', () => {
  it('merges the fields of a type that several folders resolve', () => {
    const a = () => 'a';
    const b = () => 'b';
    const merged = mergeResolvers({ DateTime }, { Tenant: { organizations: a } }, { Tenant: { projects: b }, Project: { name: a } });
    expect(merged).toEqual({ DateTime, Tenant: { organizations: a, projects: b }, Project: { name: a } });
  });

  it('refuses a field defined twice instead of keeping the last one', () => {
    expect(() => mergeResolvers({ Mutation: { createTask: () => 1 } }, { Mutation: { createTask: () => 2 } })).toThrow(
      'Mutation.createTask is defined twice',
    );
  });

  it('refuses a scalar defined twice', () => {
    expect(() => mergeResolvers({ DateTime }, { DateTime })).toThrow('DateTime is defined twice');
  });

  it('leaves the maps it was given unchanged', () => {
    const tenant = { organizations: () => [] };
    mergeResolvers({ Tenant: tenant }, { Tenant: { projects: () => [] } });
    expect(Object.keys(tenant)).toEqual(['organizations']);
  });
});
