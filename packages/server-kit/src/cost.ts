import { type ApolloServerPlugin, type BaseContext, HeaderMap } from '@apollo/server';
import { queryTooExpensive } from '@tenantgraph/core';
import {
  type ArgumentNode,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLField,
  type GraphQLInterfaceType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLSchema,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';

/**
 * How large a list field's answer can be, as its owner declares it in the SDL with federation's
 * `@listSize` (https://specs.apollo.dev/cost/v0.1): a fixed `assumedSize` for an unpaged list,
 * or the `slicingArguments` (`first`) that bound it, applied to the field itself or, for a
 * connection, to its `sizedFields` (`nodes`).
 */
export type ListSize = { assumedSize?: number; slicingArguments?: string[]; sizedFields?: string[] };

/** The `@listSize` of every field that has one, by `Type.field`. */
export type ListSizes = ReadonlyMap<string, ListSize>;

/** A list with no `@listSize` and no slicing argument is assumed to be this long (the largest page). */
export const ASSUMED_LIST_SIZE = 100;

const FIRST: ListSize = { slicingArguments: ['first'] };

/** What a mutation's root field costs on top of its selection: it writes, so it is never cheap. */
export const MUTATION_COST = 10;

/**
 * Reads every `@listSize` of an SDL document: a subgraph's `schema.graphql` or the composed
 * supergraph (composition keeps the directive there; the gateway's client schema drops it).
 * @example const sizes = listSizesOf(parse(readFileSync('schema.graphql', 'utf8')))
 */
export function listSizesOf(sdl: DocumentNode): ListSizes {
  const sizes = new Map<string, ListSize>();
  for (const definition of sdl.definitions) {
    if (
      definition.kind !== Kind.OBJECT_TYPE_DEFINITION &&
      definition.kind !== Kind.OBJECT_TYPE_EXTENSION &&
      definition.kind !== Kind.INTERFACE_TYPE_DEFINITION &&
      definition.kind !== Kind.INTERFACE_TYPE_EXTENSION
    ) {
      continue;
    }
    for (const field of definition.fields ?? []) {
      const directive = field.directives?.find((candidate) => /(^|__)listSize$/.test(candidate.name.value));
      if (!directive) continue;
      const size: ListSize = {};
      for (const argument of directive.arguments ?? []) {
        const { value } = argument;
        if (argument.name.value === 'assumedSize' && value.kind === Kind.INT) size.assumedSize = Number(value.value);
        if (argument.name.value === 'slicingArguments') size.slicingArguments = stringsOf(value);
        if (argument.name.value === 'sizedFields') size.sizedFields = stringsOf(value);
      }
      sizes.set(`${definition.name.value}.${field.name.value}`, size);
    }
  }
  return sizes;
}

const stringsOf = (value: ValueNode) =>
  value.kind === Kind.LIST ? value.values.flatMap((item) => (item.kind === Kind.STRING ? [item.value] : [])) : [];

export type CostEstimate = {
  /**
   * Objects the answer can hold at most: every object-typed value counts 1, times the size of
   * each list above it (scalars are free); each mutation root field adds MUTATION_COST.
   */
  cost: number;
  /** Deepest nesting of fields, fragments flattened. */
  depth: number;
};

export type EstimateInput = {
  schema: GraphQLSchema;
  document: DocumentNode;
  /** The operation to run (a document may hold several). */
  operation: OperationDefinitionNode;
  /** The request's variables as sent: `first: $n` counts with the value of `n`. */
  variables?: Record<string, unknown> | undefined;
  listSizes: ListSizes;
  defaultListSize?: number;
};

/**
 * Estimates, before execution, how much an operation can ask for. Each list counts with the
 * value of its slicing argument (a literal, a variable, or the argument's default), else its
 * declared `@listSize(assumedSize)`, else ASSUMED_LIST_SIZE; `_entities` counts its
 * representations. Abstract selections count as if every fragment applied (an upper bound).
 * Linear in the size of the document: a fragment is costed once however often it is spread.
 * @example estimateCost({ schema, document, operation, variables, listSizes }).cost
 */
export function estimateCost(input: EstimateInput): CostEstimate {
  const { schema, document, operation, variables = {}, listSizes, defaultListSize = ASSUMED_LIST_SIZE } = input;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const variableDefaults = new Map<string, ValueNode>();
  for (const definition of operation.variableDefinitions ?? []) {
    if (definition.defaultValue) variableDefaults.set(definition.variable.name.value, definition.defaultValue);
  }

  /** A number given to an argument: its literal, its variable's value or default; undefined when absent. */
  const numberOf = (value: ValueNode | undefined): number | undefined => {
    if (!value) return undefined;
    if (value.kind === Kind.INT) return Number(value.value);
    if (value.kind === Kind.VARIABLE) {
      const given = variables[value.name.value];
      if (typeof given === 'number') return given;
      return given == null ? numberOf(variableDefaults.get(value.name.value)) : undefined;
    }
    return undefined;
  };
  /** How many items a list argument holds (`_entities(representations:)`). */
  const lengthOf = (value: ValueNode | undefined): number | undefined => {
    if (!value) return undefined;
    if (value.kind === Kind.LIST) return value.values.length;
    if (value.kind === Kind.VARIABLE) {
      const given = variables[value.name.value];
      return Array.isArray(given) ? given.length : lengthOf(variableDefaults.get(value.name.value));
    }
    return undefined;
  };
  const argument = (node: FieldNode, name: string): ArgumentNode | undefined => node.arguments?.find((arg) => arg.name.value === name);

  /** The value of the slicing arguments (the largest given), or undefined when none has one. */
  const slicedSize = (node: FieldNode, field: GraphQLField<unknown, unknown>, declared: ListSize): number | undefined => {
    let size: number | undefined;
    for (const name of declared.slicingArguments ?? []) {
      const given = numberOf(argument(node, name)?.value);
      const fallback = field.args.find((arg) => arg.name === name)?.defaultValue;
      const value = given ?? (typeof fallback === 'number' ? fallback : undefined);
      if (value !== undefined) size = Math.max(size ?? 0, value);
    }
    return size === undefined ? undefined : Math.max(0, size);
  };

  type Sized = { fields: string[]; size: number } | undefined;
  const memo = new Map<string, CostEstimate>();
  const visiting = new Set<string>();

  const selectionCost = (set: SelectionSetNode, type: GraphQLNamedType, sized: Sized): CostEstimate => {
    let cost = 0;
    let depth = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        depth = Math.max(depth, 1);
        // __typename is free; introspection has its own rules (noCircularIntrospection, disabled in production).
        if (name.startsWith('__') || !hasFields(type)) continue;
        const field = type.getFields()[name];
        if (!field) continue;
        // An undeclared list with a `first` argument is still bounded by it.
        const declared = listSizes.get(`${type.name}.${name}`) ?? (field.args.some((arg) => arg.name === 'first') ? FIRST : {});
        const { named, isList } = unwrap(field.type);
        const sliced = slicedSize(selection, field, declared);
        let size = 1;
        if (isList) {
          if (sized?.fields.includes(name)) size = sized.size;
          else if (name === '_entities') size = lengthOf(argument(selection, 'representations')?.value) ?? defaultListSize;
          else if (!declared.sizedFields) size = sliced ?? declared.assumedSize ?? defaultListSize;
          else size = declared.assumedSize ?? defaultListSize;
        }
        if (!COMPOSITE.has(tagOf(named) ?? '') || !selection.selectionSet) continue;
        const childSized = declared.sizedFields
          ? { fields: declared.sizedFields, size: sliced ?? declared.assumedSize ?? defaultListSize }
          : undefined;
        const child = selectionCost(selection.selectionSet, named, childSized);
        cost += size * (1 + child.cost);
        depth = Math.max(depth, 1 + child.depth);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : type;
        const child = selectionCost(selection.selectionSet, condition ?? type, sized);
        cost += child.cost;
        depth = Math.max(depth, child.depth);
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        const key = `${name}:${sized ? `${sized.fields.join(',')}=${sized.size}` : ''}`;
        // A fragment cycle is a validation error before this runs; here it must only not loop.
        if (!fragment || visiting.has(name)) continue;
        let child = memo.get(key);
        if (!child) {
          visiting.add(name);
          child = selectionCost(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value) ?? type, sized);
          visiting.delete(name);
          memo.set(key, child);
        }
        cost += child.cost;
        depth = Math.max(depth, child.depth);
      }
    }
    return { cost, depth };
  };

  const root = schema.getRootType(operation.operation);
  if (!root) return { cost: 0, depth: 0 };
  const estimate = selectionCost(operation.selectionSet, root, undefined);
  if (operation.operation === 'mutation') {
    const writes = operation.selectionSet.selections.filter(
      (selection) => selection.kind === Kind.FIELD && !selection.name.value.startsWith('__'),
    );
    estimate.cost += writes.length * MUTATION_COST;
  }
  return { cost: Math.min(Math.round(estimate.cost), Number.MAX_SAFE_INTEGER), depth: estimate.depth };
}

// The gateway's schema comes from @apollo/federation-internals, which loads graphql's CommonJS
// build; this module may get the ESM one. graphql's `isListType` & co. use `instanceof` and throw
// across the two, so types are told apart by their `Symbol.toStringTag` instead.
const tagOf = (type: unknown) => (type as { [Symbol.toStringTag]?: string })[Symbol.toStringTag];
const COMPOSITE = new Set(['GraphQLObjectType', 'GraphQLInterfaceType', 'GraphQLUnionType']);
const hasFields = (type: GraphQLNamedType): type is GraphQLObjectType | GraphQLInterfaceType =>
  tagOf(type) === 'GraphQLObjectType' || tagOf(type) === 'GraphQLInterfaceType';

/** The named type under a field's type, and whether the field is a list. */
function unwrap(type: GraphQLOutputType): { named: GraphQLNamedType; isList: boolean } {
  let inner = type as GraphQLOutputType & { ofType?: GraphQLOutputType };
  if (tagOf(inner) === 'GraphQLNonNull') inner = inner.ofType as typeof inner;
  const isList = tagOf(inner) === 'GraphQLList';
  while (inner.ofType) inner = inner.ofType as typeof inner;
  return { named: inner as GraphQLNamedType, isList };
}

export type CostLimitOptions<C extends BaseContext> = {
  /** The most this request may cost (e.g. by the tenant's plan). */
  budget(context: C): number;
  /** The `@listSize` declarations of the schema being served. */
  listSizes(schema: GraphQLSchema): ListSizes;
  /** Deeper operations are refused with GRAPHQL_VALIDATION_FAILED; unset: no depth rule here. */
  maxDepth?: number;
  defaultListSize?: number;
  /**
   * Once the operation is within budget, before it executes: waits for the request's turn,
   * weighted by its cost (`tenantAdmission`), and resolves with the release, called once the
   * answer is ready. A refusal (TOO_MANY_REQUESTS) is answered with its status and `Retry-After`.
   */
  admit?(context: C, cost: number): Promise<() => void>;
};

/**
 * An Apollo Server plugin that refuses an operation over its budget with QUERY_TOO_EXPENSIVE
 * (HTTP 400, `extensions.cost` and `extensions.limit`). It runs once the operation is resolved,
 * when variables are known and before anything executes: at the gateway no subgraph is called.
 */
export function costLimitPlugin<C extends BaseContext>(options: CostLimitOptions<C>): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      let release: (() => void) | undefined;
      // Apollo runs every plugin's didResolveOperation at once and answers as soon as one throws
      // (access control, say): a turn that comes after the answer is given back at once.
      let answered = false;
      return {
        async didResolveOperation({ schema, document, operation, request, contextValue }) {
          if (!operation) return;
          const { cost } = checkCost(
            {
              schema,
              document,
              operation,
              variables: request.variables,
              listSizes: options.listSizes(schema),
              defaultListSize: options.defaultListSize,
            },
            { maxDepth: options.maxDepth, budget: options.budget(contextValue) },
          );
          if (!options.admit) return;
          release = await options.admit(contextValue, cost).catch(withRetryAfter);
          if (answered) release();
        },
        async willSendResponse() {
          answered = true;
          release?.();
        },
      };
    },
  };
}

/** Estimates by operation, for the schema and list sizes they were made with, by the variables' JSON text. */
const estimates = new WeakMap<
  OperationDefinitionNode,
  { schema: GraphQLSchema; listSizes: ListSizes; defaultListSize: number | undefined; byVariables: Map<string, CostEstimate> }
>();
/** Variables longer than this as JSON (a batch of representations, say) are estimated each time: their text is rarely seen twice. */
const REMEMBERED_VARIABLES_CHARS = 512;

/**
 * `estimateCost`, remembered: an estimate depends on the operation, the schema, the list sizes
 * and the variables only, and a server's cached documents are the same nodes each time.
 */
function rememberedEstimate(input: EstimateInput): CostEstimate {
  // A subgraph's `_entities` batch is rarely sent twice: estimated at once, without writing its text.
  if (input.variables && 'representations' in input.variables) return estimateCost(input);
  const variables = JSON.stringify(input.variables ?? {});
  if (variables.length > REMEMBERED_VARIABLES_CHARS) return estimateCost(input);
  let known = estimates.get(input.operation);
  if (!known || known.schema !== input.schema || known.listSizes !== input.listSizes || known.defaultListSize !== input.defaultListSize) {
    known = { schema: input.schema, listSizes: input.listSizes, defaultListSize: input.defaultListSize, byVariables: new Map() };
    estimates.set(input.operation, known);
  }
  let estimate = known.byVariables.get(variables);
  if (!estimate) {
    estimate = estimateCost(input);
    if (known.byVariables.size >= 256) known.byVariables.clear();
    known.byVariables.set(variables, estimate);
  }
  return estimate;
}

/**
 * Estimates the operation (`estimateCost`) and refuses it when it nests deeper than `maxDepth`
 * (GRAPHQL_VALIDATION_FAILED, 400) or costs more than `budget` (QUERY_TOO_EXPENSIVE).
 * @example checkCost({ schema, document, operation, variables, listSizes }, { maxDepth: 10, budget: 50_000 })
 */
export function checkCost(input: EstimateInput, limits: { maxDepth?: number | undefined; budget: number }): CostEstimate {
  const estimate = rememberedEstimate(input);
  if (limits.maxDepth !== undefined && estimate.depth > limits.maxDepth) {
    throw new GraphQLError(`Query depth ${estimate.depth} is over the limit of ${limits.maxDepth}.`, {
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400 } },
    });
  }
  if (estimate.cost > limits.budget) throw queryTooExpensive(estimate.cost, limits.budget);
  return estimate;
}

/** Rethrows `error` with a `Retry-After` header when it carries `retryAfterSeconds` (TOO_MANY_REQUESTS). */
function withRetryAfter(error: unknown): never {
  const { message, extensions } = error as Partial<GraphQLError>;
  const seconds = extensions?.retryAfterSeconds;
  if (typeof seconds !== 'number') throw error;
  const http = { ...(extensions?.http as object), headers: new HeaderMap([['retry-after', String(seconds)]]) };
  throw new GraphQLError(message ?? 'Too many requests; retry later.', { extensions: { ...extensions, http } });
}
