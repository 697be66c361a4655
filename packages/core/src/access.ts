import {
  type DirectiveNode,
  type DocumentNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLOutputType,
  type GraphQLSchema,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import { forbidden } from './errors.ts';

/**
 * What one type or field of a schema asks of the caller, from Apollo's `@authenticated` and
 * `@requiresScopes(scopes: [["a", "b"], ["c"]])`: a login, and for each application of
 * `@requiresScopes` one of its scope sets ("a and b, or c").
 */
export type AccessRule = {
  authenticated: boolean;
  scopes: readonly (readonly (readonly string[])[])[];
};

/** Access rules by schema coordinate: `Type` for a type, `Type.field` for a field. */
export type AccessPolicy = ReadonlyMap<string, AccessRule>;

/** Where a denied field sits in the response, and what it needed. */
export type AccessDenial = { path: string[]; coordinate: string; rule: AccessRule };

const AUTHENTICATED_SPEC = 'https://specs.apollo.dev/authenticated/';
const REQUIRES_SCOPES_SPEC = 'https://specs.apollo.dev/requiresScopes/';
const FEDERATION_SPEC = 'https://specs.apollo.dev/federation/';

/**
 * Reads the access policy of an SDL document: a subgraph's schema file (the directives imported
 * from the federation `@link`, renames included) or a composed supergraph (their own `@link`s).
 * @example accessPolicyOf(parse(readFileSync('schema.graphql', 'utf8'))).get('Mutation.createProduct')
 */
export function accessPolicyOf(document: DocumentNode): AccessPolicy {
  const names = directiveNames(document);
  const policy = new Map<string, AccessRule>();
  const add = (coordinate: string, directives: readonly DirectiveNode[] | undefined) => {
    for (const directive of directives ?? []) {
      const kind = names.get(directive.name.value);
      if (!kind) continue;
      const rule = policy.get(coordinate) ?? { authenticated: false, scopes: [] };
      policy.set(
        coordinate,
        kind === 'authenticated' ? { ...rule, authenticated: true } : { ...rule, scopes: [...rule.scopes, scopesArgument(directive)] },
      );
    }
  };
  for (const definition of document.definitions) {
    if (!('name' in definition) || !definition.name || definition.kind === Kind.DIRECTIVE_DEFINITION) continue;
    if (!('directives' in definition)) continue;
    const type = definition.name.value;
    add(type, definition.directives);
    if ('fields' in definition) for (const field of definition.fields ?? []) add(`${type}.${field.name.value}`, field.directives);
  }
  return policy;
}

/** Local directive names of the two specs, as the document's `@link`s name them. */
function directiveNames(document: DocumentNode): Map<string, 'authenticated' | 'requiresScopes'> {
  const names = new Map<string, 'authenticated' | 'requiresScopes'>([
    ['authenticated', 'authenticated'],
    ['requiresScopes', 'requiresScopes'],
  ]);
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.SCHEMA_DEFINITION && definition.kind !== Kind.SCHEMA_EXTENSION) continue;
    for (const link of definition.directives ?? []) {
      if (link.name.value !== 'link') continue;
      const url = stringArgument(link, 'url') ?? '';
      const as = stringArgument(link, 'as');
      if (url.startsWith(AUTHENTICATED_SPEC) && as) rename(names, 'authenticated', as);
      if (url.startsWith(REQUIRES_SCOPES_SPEC) && as) rename(names, 'requiresScopes', as);
      if (!url.startsWith(FEDERATION_SPEC)) continue;
      // Not imported, federation's directives go by `federation__<name>` (or `<as>__<name>`).
      names.set(`${as ?? 'federation'}__authenticated`, 'authenticated');
      names.set(`${as ?? 'federation'}__requiresScopes`, 'requiresScopes');
      const imports = link.arguments?.find((argument) => argument.name.value === 'import')?.value;
      for (const item of imports?.kind === Kind.LIST ? imports.values : []) {
        if (item.kind !== Kind.OBJECT) continue;
        const field = (name: string) => item.fields.find((f) => f.name.value === name)?.value;
        const from = field('name');
        const to = field('as');
        if (from?.kind !== Kind.STRING || to?.kind !== Kind.STRING) continue;
        const spec = from.value.slice(1);
        if (spec === 'authenticated' || spec === 'requiresScopes') rename(names, spec, to.value.slice(1));
      }
    }
  }
  return names;
}

function rename(names: Map<string, 'authenticated' | 'requiresScopes'>, spec: 'authenticated' | 'requiresScopes', local: string) {
  if (names.get(spec) === spec) names.delete(spec);
  names.set(local, spec);
}

function stringArgument(directive: DirectiveNode, name: string): string | undefined {
  const value = directive.arguments?.find((argument) => argument.name.value === name)?.value;
  return value?.kind === Kind.STRING ? value.value : undefined;
}

function scopesArgument(directive: DirectiveNode): string[][] {
  const value = directive.arguments?.find((argument) => argument.name.value === 'scopes')?.value;
  const list = (node: ValueNode | undefined) => (node?.kind === Kind.LIST ? node.values : []);
  return list(value).map((set) => list(set).flatMap((scope) => (scope.kind === Kind.STRING ? [scope.value] : [])));
}

/** True when a caller (`undefined`: anonymous) with these scopes meets the rule. */
export function satisfies(rule: AccessRule, caller: { scopes: readonly string[] } | undefined): boolean {
  if (!caller) return !rule.authenticated && rule.scopes.length === 0;
  return rule.scopes.every((sets) => sets.some((set) => set.every((scope) => caller.scopes.includes(scope))));
}

/**
 * Every field of the operation the caller may not select, by response path: a field is denied
 * when its own rule, or the rule of the type it returns, is not met. Runs on a validated
 * operation, before anything is planned or resolved.
 */
export function deniedFields(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  policy: AccessPolicy,
  caller: { scopes: readonly string[] } | undefined,
): AccessDenial[] {
  const root = schema.getRootType(operation.operation);
  if (policy.size === 0 || !root) return [];
  const fragments = new Map(
    document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]),
  );
  const denials: AccessDenial[] = [];
  const check = (coordinate: string, path: string[]) => {
    const rule = policy.get(coordinate);
    if (rule && !satisfies(rule, caller)) denials.push({ path, coordinate, rule });
  };
  check(root.name, []);
  const walk = (selections: SelectionSetNode, parent: GraphQLNamedType, path: string[], spread: ReadonlySet<string>) => {
    for (const selection of selections.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        if (type) walk(selection.selectionSet, type, path, spread);
      } else if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        const type = fragment && schema.getType(fragment.typeCondition.name.value);
        if (fragment && type && !spread.has(fragment.name.value)) {
          walk(fragment.selectionSet, type, path, new Set([...spread, fragment.name.value]));
        }
      } else if (!selection.name.value.startsWith('__')) {
        const field = fieldsOf(parent)?.[selection.name.value];
        if (!field) continue;
        const fieldPath = [...path, selection.alias?.value ?? selection.name.value];
        const type = namedType(field.type);
        check(`${parent.name}.${field.name}`, fieldPath);
        check(type.name, fieldPath);
        if (selection.selectionSet) walk(selection.selectionSet, type, fieldPath, spread);
      }
    }
  };
  walk(operation.selectionSet, root, [], new Set());
  return denials;
}

// Duck-typed rather than graphql's isObjectType & co.: a subgraph's schema is built by
// @apollo/subgraph with graphql's CommonJS build, and instanceof fails across the two builds.
function fieldsOf(type: GraphQLNamedType): Record<string, GraphQLField<unknown, unknown>> | undefined {
  return 'getFields' in type && typeof type.getFields === 'function'
    ? (type.getFields() as Record<string, GraphQLField<unknown, unknown>>)
    : undefined;
}

function namedType(type: GraphQLOutputType): GraphQLNamedType {
  let named: GraphQLOutputType = type;
  while ('ofType' in named && named.ofType) named = named.ofType;
  return named as GraphQLNamedType;
}

/** The FORBIDDEN error for a denied field: names its path and what it needs. */
export function accessDenied(denial: AccessDenial, caller: { scopes: readonly string[] } | undefined) {
  const where = denial.path.length > 0 ? denial.path.join('.') : 'This operation';
  const missing = denial.rule.scopes.find((sets) => !sets.some((set) => set.every((scope) => caller?.scopes.includes(scope))));
  const needs = missing
    ? `the scope ${missing.map((set) => set.map((scope) => `"${scope}"`).join(' and ')).join(', or ')}`
    : 'a signed-in caller';
  const { message, extensions } = forbidden(`${where} needs ${needs}.`);
  // The response path of the field at fault, so a client can tell which selection to drop.
  return new GraphQLError(message, { extensions, ...(denial.path.length > 0 ? { path: denial.path } : {}) });
}
