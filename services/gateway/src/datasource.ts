import { RemoteGraphQLDataSource } from '@apollo/gateway';
import { serviceUnavailable } from '@tenantgraph/core';
import { GraphQLError } from 'graphql';
import type { GatewayContext } from './context.ts';
import type { EntityCache } from './entity-cache.ts';

type DataSource = RemoteGraphQLDataSource<GatewayContext>;

/**
 * Every subgraph request carries the caller's token (each subgraph verifies it again), the
 * tenant from the verified claim, and the request id. Nothing else of the client's headers is
 * forwarded, so a tenant header sent by a client never reaches a subgraph.
 */
export class TenantDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  /** The entity cache and this subgraph's name in its keys; no caching when absent. */
  cache?: { cache: EntityCache; subgraph: string } | undefined;

  /**
   * With the entity cache: a query fetch of a request that may be cached is answered from it when
   * it holds the same fetch (same tenant, placement, generations, scopes, selection, types and
   * keys); otherwise sent, and its answer kept when it carries no error. Mutations always go out,
   * and name their subgraph for `invalidateOnMutation`.
   */
  override async process(options: Parameters<DataSource['process']>[0]) {
    const context = 'incomingRequestContext' in options ? options.context : undefined;
    const scope = context?.cacheScope;
    const query = options.request.query;
    const send = () => {
      if (context) context.subgraphFetches = (context.subgraphFetches ?? 0) + 1;
      return super.process(options);
    };
    if (!this.cache || !query) {
      // A subgraph never cached (analytics): the whole answer is not kept either (`wholeAnswers`).
      if (context) context.uncachedFetch = true;
      return send();
    }
    const { cache, subgraph } = this.cache;
    if (/^\s*mutation\b/.test(query)) {
      // Noted before it is sent: a mutation that fails half-way may still have changed something.
      if (context) context.mutatedSubgraphs = new Set(context.mutatedSubgraphs).add(subgraph);
      return send();
    }
    if (!scope || /^\s*subscription\b/.test(query)) return send();
    const key = cache.key(scope, subgraph, query, options.request.variables);
    const cached = await cache.get(scope, key);
    if (cached !== undefined) return JSON.parse(cached) as Awaited<ReturnType<DataSource['process']>>;
    const response = await send();
    if (response.data && !response.errors?.length) cache.set(scope, key, JSON.stringify({ data: response.data }));
    return response;
  }

  override willSendRequest({ request, context }: Parameters<NonNullable<DataSource['willSendRequest']>>[0]) {
    const headers = request.http?.headers;
    if (!headers || !context.viewer) return;
    headers.set('authorization', `Bearer ${context.viewer.token}`);
    headers.set('x-tenant-id', context.viewer.tenantId);
    headers.set('x-request-id', context.requestId);
  }

  /**
   * A subgraph that gave no answer (timed out, refused or dropped the connection) is a retryable
   * SERVICE_UNAVAILABLE in its part of the answer; the rest is still delivered (HTTP 200). The
   * cause, with the address, goes to the log only.
   */
  override didEncounterError(...[error, , response, context]: Parameters<DataSource['didEncounterError']>): never {
    if (response) throw error;
    context?.logger?.warn('subgraph request failed', { url: this.url, error });
    throw serviceUnavailable('A service this request needs did not answer; retry later.');
  }

  /**
   * A subgraph that refuses the tenant's request for its concurrency limit says so to the client
   * (TOO_MANY_REQUESTS in its part of the answer, the rest still delivered) instead of an
   * internal error.
   */
  override async errorFromResponse(response: Parameters<RemoteGraphQLDataSource<GatewayContext>['errorFromResponse']>[0]) {
    if (response.status !== 429) return super.errorFromResponse(response);
    return new GraphQLError('Too many concurrent requests for this tenant in a service; retry later.', {
      extensions: { code: 'TOO_MANY_REQUESTS', http: { status: 200 } },
    });
  }
}
