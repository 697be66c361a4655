import { RemoteGraphQLDataSource } from '@apollo/gateway';
import { serviceUnavailable } from '@tenantgraph/core';
import { GraphQLError } from 'graphql';
import type { GatewayContext } from './context.ts';
import type { EntityCache, SentMutation } from './entity-cache.ts';

type DataSource = RemoteGraphQLDataSource<GatewayContext>;
type FetcherResponse = Awaited<ReturnType<DataSource['fetcher']>>;
type SubgraphRequest = Parameters<DataSource['process']>[0]['request'];
type SubgraphResponse = Awaited<ReturnType<DataSource['process']>>;

/**
 * Every subgraph request carries the caller's token, the tenant from the verified claim and the
 * request id, and nothing else of the client's headers (see `#send`).
 */
export class TenantDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  /** The entity cache and this subgraph's name in its keys; no caching when absent. */
  cache?: { cache: EntityCache; subgraph: string } | undefined;

  /**
   * With the entity cache: a query fetch of a request that may be cached is answered from it when
   * it holds the same fetch (same tenant, placement, generations, scopes, selection, types and
   * keys); otherwise sent, and its answer kept when it carries no error. Mutations always go out,
   * and name their subgraph, and what it says they changed, for `invalidateOnMutation`.
   */
  override async process(options: Parameters<DataSource['process']>[0]) {
    const context = 'incomingRequestContext' in options ? options.context : undefined;
    const scope = context?.cacheScope;
    const query = options.request.query;
    const send = () => {
      if (context) context.subgraphFetches = (context.subgraphFetches ?? 0) + 1;
      return this.#send(options.request, context);
    };
    if (!this.cache || !query) {
      // A subgraph never cached (analytics): the whole answer is not kept either (`wholeAnswers`).
      if (context) context.uncachedFetch = true;
      return send();
    }
    const { cache, subgraph } = this.cache;
    if (/^\s*mutation\b/.test(query)) {
      // Noted before it is sent: a mutation that fails half-way may still have changed something.
      const mutation: SentMutation = { subgraph };
      if (context) context.mutations = [...(context.mutations ?? []), mutation];
      const response = await send();
      // What the subgraph says its mutation changed (`noteChanged`), when it says so.
      const changed = (response.extensions?.entityCache as { changed?: unknown } | undefined)?.changed;
      if (Array.isArray(changed) && changed.every((type) => typeof type === 'string')) mutation.changed = changed;
      return response;
    }
    if (!scope || /^\s*subscription\b/.test(query)) return send();
    const key = cache.key(scope, subgraph, query, options.request.variables);
    const cached = await cache.get(scope, key);
    if (cached !== undefined) return JSON.parse(cached) as SubgraphResponse;
    const response = await send();
    if (response.data && !response.errors?.length) cache.set(scope, key, JSON.stringify({ data: response.data }));
    return response;
  }

  /**
   * One fetch, as Apollo's `process` sends it, less what this gateway never uses (automatic
   * persisted queries; the subgraphs' Cache-Control, cache control being off) and without the
   * `node-fetch` Headers and Request it builds for every fetch, 3–4 % of the gateway's CPU.
   * The headers are only these: JSON, the caller's token (each subgraph verifies it again), the
   * tenant from the verified claim and the request id. Nothing of the client's headers is
   * forwarded, so a tenant header sent by a client never reaches a subgraph.
   */
  async #send(request: SubgraphRequest, context: GatewayContext | undefined): Promise<SubgraphResponse> {
    if (!request.query) throw new Error('Missing query');
    const { http: _http, ...body } = request;
    const viewer = context?.viewer;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (viewer && context) {
      headers.authorization = `Bearer ${viewer.token}`;
      headers['x-tenant-id'] = viewer.tenantId;
      headers['x-request-id'] = context.requestId;
    }
    let response: FetcherResponse | undefined;
    try {
      response = await this.fetcher(this.url, { method: 'POST', headers, body: JSON.stringify(body) });
      if (!response.ok) throw await this.errorFromResponse(response);
      const answer: unknown = await response.json();
      if (typeof answer !== 'object' || answer === null) throw new Error(`Expected JSON response body, but received: ${answer}`);
      return { ...answer, http: response } as SubgraphResponse;
    } catch (error) {
      // Apollo hands `didEncounterError` the Request it built; ours reads the error and the answer only.
      this.didEncounterError(error as Error, undefined as never, response, context, request);
    }
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
