import { createRequire } from 'node:module';
import type {
  DocumentNode,
  GraphQLError as GraphQLErrorType,
  GraphQLFormattedError,
  GraphQLSchema,
  OperationDefinitionNode,
  ValidationRule,
} from 'graphql';
import type { GraphQLExecutor, HttpGraphQLResponse } from './http.ts';

// The schema comes from @apollo/subgraph, which loads graphql's CommonJS build: parse, validate and
// execute with the same build, or its `instanceof` checks fail (see access.ts for the vitest case).
const graphql = createRequire(import.meta.url)('graphql') as typeof import('graphql');
const { GraphQLError, getOperationAST, parse, specifiedRules, validate } = graphql;

/** One operation, parsed and validated, as the executor's checks see it. */
export type ResolvedOperation = {
  schema: GraphQLSchema;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  variables: Record<string, unknown> | undefined;
};

export type ExecutorOptions<C> = {
  schema: GraphQLSchema;
  /** Run after graphql's own rules and the no-introspection rule, once per distinct document. */
  validationRules?: readonly ValidationRule[];
  /**
   * Run on every request once its operation is known and before anything executes (access
   * control, cost): throwing a GraphQLError refuses the request with it.
   */
  checks?: readonly ((operation: ResolvedOperation, context: C) => void)[];
  /** Shapes each error for the client (masking). */
  formatError(formatted: GraphQLFormattedError): GraphQLFormattedError;
  /** Sees every error of every request, before it is formatted (logging). */
  onErrors?(errors: readonly GraphQLErrorType[], context: C): void;
  /** The operation of a request, once known (metrics, the access log). */
  onOperation?(operation: OperationDefinitionNode, operationName: string | undefined, context: C): void;
  /** Every request that reached the executor, with the code of its first error (none when it succeeded). */
  onAnswer?(code: string | undefined, context: C): void;
  /** The answer's `extensions`, if any (what a mutation changed, for the gateway's entity cache). */
  extensions?(context: C): Record<string, unknown> | undefined;
  /** Distinct documents kept parsed and validated, least recently used dropped first. */
  documentCacheSize?: number;
  /** And at most this many characters of query text in all (their parsed form is a few times larger). */
  documentCacheChars?: number;
};

type Prepared = { document: DocumentNode } | { status: number; errors: readonly GraphQLErrorType[] };

/** The HTTP status of a request refused before execution, by its error's code. */
const REFUSED = 400;
/** Apollo Server's status for an error thrown by a check with no `extensions.http` of its own. */
const CHECK_FAILED = 500;
const JSON_TYPE: [string, string] = ['content-type', 'application/json; charset=utf-8'];

/**
 * A GraphQL executor for a subgraph: POST with a JSON body, one operation per request. Each
 * distinct document is parsed and validated once (graphql's rules, no introspection, the extra
 * rules), then kept; a request costs its checks and graphql's `execute`, without Apollo Server's
 * per-request pipeline (content negotiation, hashing, plugin hooks), which the gateway keeps.
 * Answers and status codes are Apollo Server's: 400 for a body, document or operation that
 * cannot run, the status an error's `extensions.http` carries, 200 otherwise.
 * @example createGraphQLHttpServer({ execute: createExecutor({ schema, formatError: maskError }), ... })
 */
export function createExecutor<C>(options: ExecutorOptions<C>): GraphQLExecutor<C> {
  const { schema, checks = [], documentCacheSize = 1_000, documentCacheChars = 4_000_000 } = options;
  const rules = [...specifiedRules, noIntrospection, ...(options.validationRules ?? [])];
  const documents = new Map<string, Prepared>();

  let cachedChars = 0;
  const prepare = (query: string): Prepared => {
    const known = documents.get(query);
    if (known) {
      // Least recently used first: a hit moves to the end.
      documents.delete(query);
      documents.set(query, known);
      return known;
    }
    const prepared = parseAndValidate(query);
    // A query larger than a tenth of the cache is parsed every time rather than evict the others.
    if (query.length > documentCacheChars / 10) return prepared;
    documents.set(query, prepared);
    cachedChars += query.length;
    while (documents.size > documentCacheSize || cachedChars > documentCacheChars) {
      const oldest = documents.keys().next().value as string;
      documents.delete(oldest);
      cachedChars -= oldest.length;
    }
    return prepared;
  };

  const parseAndValidate = (query: string): Prepared => {
    let document: DocumentNode;
    try {
      document = parse(query);
    } catch (error) {
      return { status: REFUSED, errors: [withCode(error as GraphQLErrorType, 'GRAPHQL_PARSE_FAILED')] };
    }
    const invalid = validate(schema, document, rules);
    if (invalid.length > 0) return { status: REFUSED, errors: invalid.map((error) => withCode(error, 'GRAPHQL_VALIDATION_FAILED')) };
    return { document };
  };

  const answer = (status: number, errors: readonly GraphQLErrorType[], context: C, data?: unknown): HttpGraphQLResponse => {
    options.onErrors?.(errors, context);
    const headers: [string, string][] = [JSON_TYPE];
    const formatted = errors.map((error) => {
      const http = error.extensions?.http as { status?: number; headers?: Map<string, string> } | undefined;
      if (http?.status) status = http.status;
      for (const header of http?.headers ?? []) headers.push(header);
      return options.formatError(error.toJSON());
    });
    const code = formatted[0]?.extensions?.code;
    options.onAnswer?.(typeof code === 'string' ? code : undefined, context);
    const body: Record<string, unknown> =
      data === undefined ? { errors: formatted } : formatted.length > 0 ? { errors: formatted, data } : { data };
    const extensions = options.extensions?.(context);
    if (extensions) body.extensions = extensions;
    return { status, headers, body: JSON.stringify(body) };
  };

  return async (request, context) => {
    if (request.method !== 'POST') {
      return refuse(405, 'A subgraph answers POST requests only.', context, [['allow', 'POST']]);
    }
    // Cross-site request forgery: a browser sends JSON only after a preflight, which no origin passes here.
    if (!String(request.headers['content-type'] ?? '').includes('application/json')) {
      return refuse(REFUSED, 'A request must have the content-type application/json.', context);
    }
    const { query, variables, operationName } = (request.body ?? {}) as Record<string, unknown>;
    if (typeof query !== 'string' || query.length === 0) {
      return refuse(REFUSED, 'A request must contain a non-empty `query` string.', context);
    }
    if (variables != null && (typeof variables !== 'object' || Array.isArray(variables))) {
      return refuse(REFUSED, '`variables` must be an object.', context);
    }
    if (operationName != null && typeof operationName !== 'string') {
      return refuse(REFUSED, '`operationName` must be a string.', context);
    }
    const prepared = prepare(query);
    if ('errors' in prepared) return answer(prepared.status, prepared.errors, context);
    const { document } = prepared;
    const operation = getOperationAST(document, operationName);
    if (!operation) {
      const message = operationName
        ? `Unknown operation named "${operationName}".`
        : 'Must provide operation name if query contains multiple operations.';
      return answer(REFUSED, [new GraphQLError(message, { extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } })], context);
    }
    options.onOperation?.(operation, operation.name?.value ?? undefined, context);
    if (operation.operation === 'subscription') {
      return refuse(REFUSED, 'A subgraph serves no subscriptions over HTTP.', context);
    }
    const resolved: ResolvedOperation = {
      schema,
      document,
      operation,
      variables: (variables ?? undefined) as Record<string, unknown> | undefined,
    };
    try {
      for (const check of checks) check(resolved, context);
    } catch (error) {
      return answer(CHECK_FAILED, [asGraphQLError(error)], context);
    }
    const result = await graphql.execute({
      schema,
      document,
      operationName: operation.name?.value,
      variableValues: resolved.variables,
      contextValue: context,
    });
    // Variables that do not fit their types: nothing ran, and the caller's input is at fault.
    if (result.data === undefined) return answer(REFUSED, result.errors?.map((error) => withCode(error, 'BAD_USER_INPUT')) ?? [], context);
    return answer(200, result.errors ?? [], context, result.data);
  };

  function refuse(status: number, message: string, context: C, headers: [string, string][] = []): HttpGraphQLResponse {
    const response = answer(status, [new GraphQLError(message, { extensions: { code: 'BAD_REQUEST' } })], context);
    return { ...response, headers: [...(response.headers ?? []), ...headers] };
  }
}

/** Refuses `__schema` and `__type`, once each (`__typename` stays: entity answers need it). */
const noIntrospection: ValidationRule = (context) => ({
  Field(node) {
    const name = node.name.value;
    if (name === '__schema' || name === '__type') {
      context.reportError(new GraphQLError(`GraphQL introspection is not allowed, but the query contained ${name}.`, { nodes: [node] }));
    }
  },
});

/** The error with `code` unless it has one, the schema's suggestions ("Did you mean …?") cut from its message. */
function withCode(error: GraphQLErrorType, code: string): GraphQLErrorType {
  return new GraphQLError(error.message.replace(/ ?Did you mean(.+?)\?$/, ''), {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: { ...error.extensions, code: error.extensions?.code ?? code },
  });
}

function asGraphQLError(error: unknown): GraphQLErrorType {
  if (error instanceof GraphQLError) return error;
  const { message, extensions } = error as { message?: string; extensions?: Record<string, unknown> };
  return new GraphQLError(message ?? 'Unexpected error', {
    ...(extensions ? { extensions } : {}),
    ...(error instanceof Error ? { originalError: error } : {}),
  });
}
