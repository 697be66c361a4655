import { createRequire } from 'node:module';
import { appError } from '@tenantgraph/core';
import { estimateCost, type ListSizes } from '@tenantgraph/server-kit';
import {
  type DefinitionNode,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLSchema,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationRule,
} from 'graphql';

// The gateway's schema is built by @apollo/gateway with the CommonJS build of graphql; under
// vitest an ESM `import` can be the other build, whose `validate` refuses a schema of another
// realm. Everything that takes the schema comes from the CommonJS build, whoever runs this.
const { getOperationAST, parse, print, specifiedRules, validate, visit } = createRequire(import.meta.url)(
  'graphql',
) as typeof import('graphql');

/**
 * What each subscription field listens to, and the tenant-scoped lookup field (on `Tenant`) that
 * reads the event's entity by id through the federated query path.
 */
const SUBSCRIPTION_FIELDS = {
  projectCreated: { eventType: 'project.created', lookup: 'project' },
  orderPlaced: { eventType: 'order.placed', lookup: 'order' },
  taskStatusChanged: { eventType: 'task.status_changed', lookup: 'task' },
} as const;

type SubscriptionField = keyof typeof SUBSCRIPTION_FIELDS;

/** The variable of the lookup query that carries the event's entity id. */
const ENTITY_VARIABLE = 'subscriptionEntityId';
/** The lookup's alias for the entity, whatever the lookup field is called. */
const ENTITY_ALIAS = 'entity';

/** A client's subscription, checked and turned into the query that reads one event's entity. */
export type PreparedSubscription = {
  /** The client's document, parsed. */
  document: DocumentNode;
  field: SubscriptionField;
  eventType: string;
  /** Where the client expects the entity in `data` (its alias, or the field's name). */
  responseKey: string;
  /** `query($subscriptionEntityId: ID!, <the client's variables>) { tenant { entity: <lookup>(id: ...) { <the client's selection> } } }` */
  lookup: string;
  /** The client's variables, passed to every lookup with the entity id. */
  variables: Record<string, unknown>;
};

type PrepareInput = {
  schema: GraphQLSchema;
  query: unknown;
  operationName?: unknown;
  variables?: unknown;
  /** The rules of the HTTP path (graphql-armor's depth, aliases, directives ...), run on the lookup as well. */
  validationRules: readonly ValidationRule[];
  maxTokens: number;
  listSizes: ListSizes;
  /** The tenant's cost budget; the lookup is estimated like any query. */
  budget: number;
};

const validationFailed = (message: string) => new GraphQLError(message, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });

/**
 * Parses and validates a subscription against the gateway's schema, and synthesizes its lookup
 * query: the same selection under `tenant { entity: <lookup>(id: $id) }`. The lookup is held to
 * the limits of any query (depth, aliases, directives, cost by plan) here, before anything is
 * subscribed, so a subscription that could never be resolved is refused up front. Returns the
 * errors to send instead when it is refused.
 */
export function prepareSubscription(input: PrepareInput): PreparedSubscription | readonly GraphQLError[] {
  if (typeof input.query !== 'string') return [validationFailed('The subscription needs a query string.')];
  let document: DocumentNode;
  try {
    document = parse(input.query, { maxTokens: input.maxTokens });
  } catch (error) {
    return [new GraphQLError((error as Error).message, { extensions: { code: 'GRAPHQL_PARSE_FAILED' } })];
  }
  const errors = validate(input.schema, document, [...specifiedRules, ...input.validationRules]);
  if (errors.length > 0) return errors.map((error) => validationFailed(error.message));
  const operationName = typeof input.operationName === 'string' ? input.operationName : undefined;
  const operation = getOperationAST(document, operationName);
  if (!operation) return [validationFailed('No operation to run: name one with operationName.')];
  if (operation.operation !== 'subscription') {
    return [validationFailed('Only subscriptions are served over WebSocket; send queries and mutations over HTTP.')];
  }
  const [root, ...others] = operation.selectionSet.selections;
  if (root?.kind !== Kind.FIELD || others.length > 0 || !(root.name.value in SUBSCRIPTION_FIELDS)) {
    return [validationFailed('Select one subscription field directly (no fragment around it).')];
  }
  if (operation.variableDefinitions?.some((definition) => definition.variable.name.value === ENTITY_VARIABLE)) {
    return [validationFailed(`The variable name $${ENTITY_VARIABLE} is reserved.`)];
  }
  const field = root.name.value as SubscriptionField;
  const lookupDocument = lookupOf(document, operation, root, SUBSCRIPTION_FIELDS[field].lookup);
  const lookupErrors = validate(input.schema, lookupDocument, [...specifiedRules, ...input.validationRules]);
  if (lookupErrors.length > 0) return lookupErrors.map((error) => validationFailed(error.message));
  const variables = input.variables && typeof input.variables === 'object' ? (input.variables as Record<string, unknown>) : {};
  const lookupOperation = getOperationAST(lookupDocument);
  if (lookupOperation) {
    const { cost } = estimateCost({
      schema: input.schema,
      document: lookupDocument,
      operation: lookupOperation,
      variables,
      listSizes: input.listSizes,
    });
    if (cost > input.budget) return [appError('QUERY_TOO_EXPENSIVE', tooExpensive(cost, input.budget), { cost, limit: input.budget })];
  }
  return {
    document,
    field,
    eventType: SUBSCRIPTION_FIELDS[field].eventType,
    responseKey: root.alias?.value ?? field,
    lookup: print(lookupDocument),
    variables,
  };
}

const tooExpensive = (cost: number, limit: number) =>
  `Each event of this subscription would cost ${cost} to resolve, over this tenant's limit of ${limit}; select fewer items or less nesting.`;

/** The lookup query of a subscription: its selection, variables and the fragments it uses, under `tenant { entity: ... }`. */
function lookupOf(document: DocumentNode, operation: OperationDefinitionNode, root: FieldNode, lookupField: string): DocumentNode {
  const entity: FieldNode = {
    kind: Kind.FIELD,
    alias: { kind: Kind.NAME, value: ENTITY_ALIAS },
    name: { kind: Kind.NAME, value: lookupField },
    arguments: [
      {
        kind: Kind.ARGUMENT,
        name: { kind: Kind.NAME, value: 'id' },
        value: { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: ENTITY_VARIABLE } },
      },
    ],
    directives: root.directives ?? [],
    selectionSet: root.selectionSet,
  };
  const tenant: FieldNode = {
    kind: Kind.FIELD,
    name: { kind: Kind.NAME, value: 'tenant' },
    selectionSet: { kind: Kind.SELECTION_SET, selections: [entity] },
  };
  const query: OperationDefinitionNode = {
    kind: Kind.OPERATION_DEFINITION,
    operation: 'query' as OperationDefinitionNode['operation'],
    name: { kind: Kind.NAME, value: 'SubscriptionEvent' },
    variableDefinitions: [
      {
        kind: Kind.VARIABLE_DEFINITION,
        variable: { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: ENTITY_VARIABLE } },
        type: { kind: Kind.NON_NULL_TYPE, type: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: 'ID' } } },
      },
      ...(operation.variableDefinitions ?? []),
    ],
    directives: [],
    selectionSet: { kind: Kind.SELECTION_SET, selections: [tenant] },
  };
  return { kind: Kind.DOCUMENT, definitions: [query, ...fragmentsUsedBy(document, operation.selectionSet)] };
}

/** The fragment definitions a selection spreads, directly or through other fragments. */
function fragmentsUsedBy(document: DocumentNode, selectionSet: SelectionSetNode): DefinitionNode[] {
  const all = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) all.set(definition.name.value, definition);
  }
  const used = new Map<string, FragmentDefinitionNode>();
  const walk = (node: SelectionSetNode) =>
    visit(node, {
      FragmentSpread(spread) {
        const name = spread.name.value;
        const fragment = all.get(name);
        if (!fragment || used.has(name)) return;
        used.set(name, fragment);
        walk(fragment.selectionSet);
      },
    });
  walk(selectionSet);
  return [...used.values()];
}

/** The lookup's variables for one event: the client's, and the entity id. */
export function lookupVariables(prepared: PreparedSubscription, entityId: string): Record<string, unknown> {
  return { ...prepared.variables, [ENTITY_VARIABLE]: entityId };
}

/** The lookup's answer as the client's subscription result: the entity moved to the client's response key. */
export function subscriptionResult(
  prepared: PreparedSubscription,
  result: { data?: Record<string, unknown> | null; errors?: readonly { message: string; path?: readonly (string | number)[] }[] },
) {
  const tenant = result.data?.tenant as Record<string, unknown> | null | undefined;
  const entity = tenant?.[ENTITY_ALIAS];
  // Errors point below `tenant.entity` in the lookup; the client reads them below its own field.
  const errors = result.errors?.map((error) =>
    error.path && error.path[0] === 'tenant' ? { ...error, path: [prepared.responseKey, ...error.path.slice(2)] } : error,
  );
  if (entity === null || entity === undefined) {
    return {
      data: null,
      errors: errors?.length
        ? errors
        : [{ message: 'The entity of this event is no longer there.', path: [prepared.responseKey], extensions: { code: 'NOT_FOUND' } }],
    };
  }
  return { data: { [prepared.responseKey]: entity }, ...(errors?.length ? { errors } : {}) };
}

/** `parse` of the graphql build the gateway's schema uses. */
export const parseDocument = (source: string) => parse(source);
