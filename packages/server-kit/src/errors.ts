import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { errorCode, isClientErrorCode, type Logger } from '@tenantgraph/core';
import type { GraphQLError, GraphQLFormattedError } from 'graphql';

/**
 * `formatError` for Apollo Server: errors with a client code keep their message, path and code
 * (and `field` for bad input, `cost` and `limit` for an operation over budget); everything else becomes a generic INTERNAL_SERVER_ERROR. No stack
 * trace, SQL text, service name or URL ever reaches the client.
 */
export function maskError(formatted: GraphQLFormattedError): GraphQLFormattedError {
  const code = errorCode(formatted);
  const { field, cost, limit } = formatted.extensions ?? {};
  if (isClientErrorCode(code)) {
    return {
      message: formatted.message,
      ...(formatted.locations ? { locations: formatted.locations } : {}),
      ...(formatted.path ? { path: formatted.path } : {}),
      extensions: {
        code,
        ...(typeof field === 'string' ? { field } : {}),
        // QUERY_TOO_EXPENSIVE: how far over the budget the operation is.
        ...(typeof cost === 'number' ? { cost } : {}),
        ...(typeof limit === 'number' ? { limit } : {}),
      },
    };
  }
  return {
    message: 'Internal server error',
    ...(formatted.path ? { path: formatted.path } : {}),
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  };
}

/** Logs, with the request id, every error that `maskError` hides from the client. */
export function logUnexpected(logger: Logger, errors: readonly GraphQLError[], requestId: string): void {
  for (const error of errors) {
    if (!isClientErrorCode(errorCode(error))) {
      logger.error('unexpected error', { requestId, error: error.originalError ?? error, path: error.path });
    }
  }
}

/** `logUnexpected` as an Apollo Server plugin (the gateway). */
export function logUnexpectedErrors<C extends BaseContext & { requestId: string }>(logger: Logger): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue }) {
          logUnexpected(logger, errors, contextValue.requestId);
        },
      };
    },
  };
}
