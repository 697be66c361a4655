import type { ApolloGateway } from '@apollo/gateway';
import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLExecutor, HttpGraphQLRequest, Metrics } from '@tenantgraph/server-kit';
import type { GatewayContext } from './context.ts';
import type { EntityCache } from './entity-cache.ts';

/**
 * Whole answers over the entity cache. A query whose every fetch could be cached is kept whole,
 * as the bytes Apollo Server sent, and the same request of the same viewer is answered with them
 * before Apollo Server sees it: no parsing, planning, fetching or serializing, while nothing of
 * the tenant changed. A change anywhere in the tenant makes the answer unreadable (its key holds
 * every one of the tenant's generations); the entity cache then still answers the fetches the
 * change left alone. Kept in this replica's memory only: a replica rebuilds an answer from the
 * shared tier's entries.
 *
 * What Apollo Server would have checked gives the same verdict for the same request, so the key
 * holds all it depends on: the tenant's scope (placement, generations, scopes, subject: see
 * `answerKey`), the supergraph (every load makes older answers unreadable: access policy and
 * list sizes come from it), the tenant's plan (its budgets), the `accept` header (the content
 * type answered) and the request's query, operation name, variables and extensions. Only a POST
 * of `application/json` is answered here: anything else (GET, other content types, which CSRF
 * prevention looks at) goes through Apollo Server every time.
 *
 * A hit takes one request of the tenant's rate limit (at authentication, like every request) and
 * nothing of its cost per second or its concurrency slots: it sends nothing to a subgraph.
 */
export function wholeAnswers(cache: EntityCache, gateway: ApolloGateway, metrics: Metrics) {
  let supergraph = 0;
  gateway.onSchemaLoadOrUpdate(() => {
    supergraph++;
  });
  return {
    /** Around Apollo Server's executor: answers a kept request, keeps an answer the plugin allows. */
    executor(execute: GraphQLExecutor<GatewayContext>): GraphQLExecutor<GatewayContext> {
      return async (request, context) => {
        const scope = context.cacheScope;
        const fields = scope && keptRequestOf(request);
        if (!scope || !fields) return execute(request, context);
        const key = cache.answerKey(scope, `${supergraph}\u0000${context.plan}\u0000${fields}`);
        const kept = cache.answer(scope, key);
        if (kept) {
          metrics.noteOperation(context.record, 'query', kept.operationName);
          metrics.noteAnswer(context.record, undefined);
          return { status: 200, headers: kept.headers, body: kept.body };
        }
        const wholeAnswer = { keep: false };
        const response = await execute(request, { ...context, wholeAnswer });
        if (wholeAnswer.keep && response.status === 200 && typeof response.body === 'string') {
          cache.keepAnswer(scope, key, {
            body: response.body,
            headers: [...(response.headers ?? [])],
            operationName: context.record?.operationName,
          });
        }
        return response;
      };
    },

    /** Allows keeping a query's answer that holds no error and whose fetches all went to cached subgraphs. */
    plugin: {
      async requestDidStart() {
        return {
          async willSendResponse({ operation, response, contextValue }) {
            if (!contextValue.wholeAnswer || operation?.operation !== 'query' || contextValue.uncachedFetch) return;
            if (response.body.kind !== 'single') return;
            const { data, errors } = response.body.singleResult;
            if (data && !errors?.length) contextValue.wholeAnswer.keep = true;
          },
        };
      },
    } satisfies ApolloServerPlugin<GatewayContext>,
  };
}

/**
 * What of a request its answer depends on, as one string, or undefined when it is not answered
 * from a kept answer (not a POST of JSON with a query).
 */
function keptRequestOf({ method, headers, body }: HttpGraphQLRequest): string | undefined {
  if (method !== 'POST' || typeof body !== 'object' || body === null) return undefined;
  const contentType = headers['content-type'];
  if (contentType === undefined || contentType.split(';', 1)[0]!.trim().toLowerCase() !== 'application/json') return undefined;
  const { query, operationName, variables, extensions } = body as Record<string, unknown>;
  if (typeof query !== 'string') return undefined;
  return [
    headers.accept ?? '',
    JSON.stringify(operationName ?? null),
    JSON.stringify(variables ?? null),
    JSON.stringify(extensions ?? null),
    query,
  ].join('\u0000');
}
