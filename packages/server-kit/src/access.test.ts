import type { AccessPolicy, Viewer } from '@tenantgraph/core';
import { buildSchema, type OperationDefinitionNode, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { checkAccess } from './access.ts';

const schema = buildSchema('type Query { open: String secret: String }');
const document = parse('{ open secret }');
const operation = document.definitions[0] as OperationDefinitionNode;
const policy: AccessPolicy = new Map([['Query.secret', { authenticated: true, scopes: [[['secrets:read']]] }]]);
const viewer = (scopes: string[]): Viewer => ({ tenantId: 'a', subject: 'u', scopes, token: 't' }) as Viewer;
const check =
  (who: Viewer | undefined, rules = policy) =>
  () =>
    checkAccess({ schema, document, operation }, rules, who);

describe('checkAccess', () => {
  it('answers the same operation for each set of scopes on its own: one allowed, then one denied, then no token', () => {
    expect(check(viewer(['secrets:read']))).not.toThrow();
    expect(check(viewer([]))).toThrow(/secret/);
    expect(check(viewer(['secrets:read']))).not.toThrow();
    expect(check(undefined)).toThrow(/secret/);
  });

  it('checks the same operation again under another policy (a new supergraph)', () => {
    expect(check(viewer([]))).toThrow(/secret/);
    expect(check(viewer([]), new Map())).not.toThrow();
    expect(check(viewer([]), new Map([['Query.open', { authenticated: true, scopes: [[['open:read']]] }]]))).toThrow(/open/);
  });
});
