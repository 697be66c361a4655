import { GraphQLError } from 'graphql';

/**
 * The closed set of error codes a client can see in `errors[].extensions.code`,
 * each with the HTTP status it carries when it ends a request on its own.
 */
export const ERROR_STATUS = {
  UNAUTHENTICATED: 401,
  UNKNOWN_TENANT: 403,
  FORBIDDEN: 200,
  BAD_USER_INPUT: 200,
  NOT_FOUND: 200,
  TOO_MANY_REQUESTS: 429,
  /** Not one of the trusted documents (ONLY_PERSISTED_DOCUMENTS), or a listed id sent with other text. */
  PERSISTED_QUERY_NOT_IN_LIST: 400,
  QUERY_TOO_EXPENSIVE: 400,
  SERVICE_UNAVAILABLE: 503,
  INTERNAL_SERVER_ERROR: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Codes that Apollo Server itself produces and that are safe to show as they are. */
const APOLLO_CLIENT_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

/** True when an error with this code is meant for the client (its message is kept). */
export function isClientErrorCode(code: unknown): code is string {
  return typeof code === 'string' && ((code in ERROR_STATUS && code !== 'INTERNAL_SERVER_ERROR') || APOLLO_CLIENT_CODES.has(code));
}

/**
 * Creates a client-facing error with `extensions.code` and the HTTP status for the code.
 * @example throw appError('NOT_FOUND', 'No product with id "x"')
 */
export function appError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, {
    extensions: { ...extensions, code, http: { status: ERROR_STATUS[code] } },
  });
}

/** No token, or a token that failed verification. */
export const unauthenticated = (message = 'A valid bearer token is required.') => appError('UNAUTHENTICATED', message);

/** A verified token whose tenant is not registered. */
export const unknownTenant = () => appError('UNKNOWN_TENANT', 'The tenant named by the token is not registered.');

/** A missing scope, or an id or representation that belongs to another tenant. */
export const forbidden = (message: string) => appError('FORBIDDEN', message);

/** An argument that cannot be accepted; `field` names the input field at fault. */
export const badUserInput = (message: string, field?: string) => appError('BAD_USER_INPUT', message, field ? { field } : {});

/** A mutation naming an id the tenant does not have. */
export const notFound = (what: string, id: string) => appError('NOT_FOUND', `No ${what} with id "${id}".`);

/**
 * An operation whose estimated cost (or answer) is over what the tenant may ask for at once;
 * `cost` and `limit` go to the client in `extensions`, so it can tell how far over it is.
 * @example throw queryTooExpensive(12_500, 10_000)
 */
export const queryTooExpensive = (cost: number, limit: number, message?: string) =>
  appError(
    'QUERY_TOO_EXPENSIVE',
    message ??
      `The operation's estimated cost is ${cost}, over this tenant's limit of ${limit}; ask for fewer items (smaller "first") or less nesting.`,
    { cost, limit },
  );

/** The code of an error, if it carries one. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { extensions?: { code?: unknown } } | null)?.extensions?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * A tenant's database is unreachable, or briefly refuses writes while the tenant moves; the
 * client may retry. It keeps HTTP 200 so that, inside one field, the rest of the response is
 * still delivered (and a gateway passes the code on).
 */
export const serviceUnavailable = (message: string) =>
  new GraphQLError(message, { extensions: { code: 'SERVICE_UNAVAILABLE', http: { status: 200 } } });
