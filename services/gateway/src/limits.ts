import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import {
  type ASTVisitor,
  type FieldNode,
  GraphQLError,
  Kind,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

/** Bounds on one operation, checked before any subgraph is called. */
export type QueryLimits = {
  /** Nesting of selections (fragments flattened). */
  maxDepth: number;
  /** Aliased fields in one operation. */
  maxAliases: number;
  /** Lexical tokens in the document: bounds parsing work. */
  maxTokens: number;
  /** Directives in one operation. */
  maxDirectives: number;
};

/**
 * Defaults: the contract's dashboard query (depth 6, one alias, about 200 tokens) passes with
 * room to spare; a query built to exhaust the gateway does not. What an operation may cost is
 * the per-plan budget of `budget.ts`, which counts list sizes (graphql-armor's cost limit only
 * multiplied literal `first`s, so `first: $n` slipped past it).
 */
export const DEFAULT_QUERY_LIMITS: QueryLimits = {
  maxDepth: 10,
  maxAliases: 15,
  maxTokens: 2_000,
  maxDirectives: 20,
};

/**
 * The Apollo Server options that enforce `limits` with graphql-armor, plus a rule refusing
 * circular introspection. Rejections are GRAPHQL_VALIDATION_FAILED (400) and name the limit but
 * not the schema. Field suggestions are blocked when `hideSuggestions` is set.
 */
export function queryLimits(limits: QueryLimits, { hideSuggestions }: { hideSuggestions: boolean }) {
  const armor = new ApolloArmor({
    blockFieldSuggestion: { enabled: hideSuggestions },
    maxDepth: { n: limits.maxDepth, flattenFragments: true, ignoreIntrospection: true },
    maxAliases: { n: limits.maxAliases },
    // graphql-js counts tokens while parsing (`parseOptions` below) and Apollo reports it as
    // GRAPHQL_PARSE_FAILED; armor's plugin parses a second time and turns syntax errors into 500s.
    maxTokens: { enabled: false },
    maxDirectives: { n: limits.maxDirectives },
    costLimit: { enabled: false },
  });
  const { plugins, validationRules } = armor.protect();
  return {
    parseOptions: { maxTokens: limits.maxTokens },
    plugins: plugins as ApolloServerPlugin<BaseContext>[],
    validationRules: [...validationRules, noCircularIntrospection],
  };
}

/** Introspection fields that list types or fields again, so nesting them loops over the schema. */
const LISTING = new Set(['fields', 'interfaces', 'possibleTypes', 'inputFields', 'types']);

/**
 * Refuses circular introspection (`__schema { types { fields { type { fields { type ... } } } } }`):
 * on one path below `__schema`/`__type`, a listing field (`fields`, `interfaces`,
 * `possibleTypes`, `inputFields`, `types`) may appear at most twice and never twice by the same
 * name. Client tools never need more; each extra level multiplies the answer by the schema's size.
 * Fragments are followed where they are spread.
 */
const noCircularIntrospection: ValidationRule = (context: ValidationContext): ASTVisitor => {
  const fragments = new Map<string, SelectionSetNode>();
  for (const definition of context.getDocument().definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition.selectionSet);
  }
  const circular = (set: SelectionSetNode, path: string[], inIntrospection: boolean, seen: Set<string>): FieldNode | undefined => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        const inside = inIntrospection || name === '__schema' || name === '__type';
        let next = path;
        if (inside && LISTING.has(name)) {
          if (path.includes(name) || path.length >= 2) return selection;
          next = [...path, name];
        }
        if (selection.selectionSet) {
          const found = circular(selection.selectionSet, next, inside, seen);
          if (found) return found;
        }
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const found = circular(selection.selectionSet, path, inIntrospection, seen);
        if (found) return found;
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        // A fragment cycle is refused by graphql's own rules; here it only must not loop.
        if (!fragment || seen.has(name)) continue;
        const found = circular(fragment, path, inIntrospection, new Set(seen).add(name));
        if (found) return found;
      }
    }
    return undefined;
  };
  return {
    OperationDefinition(node) {
      const found = circular(node.selectionSet, [], false, new Set());
      if (found) context.reportError(new GraphQLError('Circular introspection is not allowed.', { nodes: [found] }));
    },
  };
};
