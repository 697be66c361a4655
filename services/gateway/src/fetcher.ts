import { type IncomingHttpHeaders, STATUS_CODES } from 'node:http';
import type { RemoteGraphQLDataSource } from '@apollo/gateway';
import type { Logger } from '@tenantgraph/core';
import type { Metrics } from '@tenantgraph/server-kit';
import { injectTraceContext } from '@tenantgraph/telemetry';
import { type Dispatcher, Pool } from 'undici';

type Fetcher = RemoteGraphQLDataSource['fetcher'];
type FetcherResponse = Awaited<ReturnType<Fetcher>>;

type FetcherOptions = {
  /** Sockets per subgraph host, kept alive between requests. */
  maxSockets: number;
  /** A subgraph answering slower than this fails its part of the plan. */
  timeoutMs: number;
  /** Where a subgraph going down and coming back is reported. */
  logger?: Logger;
};

/** Errors that mean nothing is listening (crashed, restarting), as opposed to a slow answer. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  // undici's: the socket closed under a request, or no connection in time.
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * The gateway's HTTP client for subgraphs: undici's connection pool per subgraph origin, with
 * keep-alive sockets bounded per host, a timeout on every fetch, and no retries (a retried
 * mutation could run twice). undici's client costs less per request than `node:http`'s (no
 * `ClientRequest` per fetch, its own timers), and the gateway sends six requests per dashboard.
 */
export function createSubgraphFetcher({ maxSockets, timeoutMs, logger }: FetcherOptions): Fetcher {
  const health = subgraphHealth(logger);
  const pools = new Map<string, Pool>();
  const targets = new Map<string, { origin: string; path: string; pool: Pool }>();
  /** The pool and path of a subgraph URL, parsed once (the gateway has a handful). */
  const targetOf = (url: string) => {
    let target = targets.get(url);
    if (!target) {
      const { origin, pathname, search } = new URL(url);
      let pool = pools.get(origin);
      if (!pool) {
        // An idle socket is dropped after 30 s, well before the subgraph server's keep-alive
        // timeout, so the pool never reuses a socket the server is closing.
        pool = new Pool(origin, {
          connections: maxSockets,
          pipelining: 1,
          keepAliveTimeout: 30_000,
          keepAliveMaxTimeout: 30_000,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        });
        pools.set(origin, pool);
      }
      target = { origin, path: `${pathname}${search}`, pool };
      targets.set(url, target);
    }
    return target;
  };
  return async (url, init = {}) => {
    const { origin, path, pool } = targetOf(url);
    try {
      const response = await send(pool, url, path, init);
      health.up(origin);
      return response;
    } catch (error) {
      if (UNREACHABLE.has((error as NodeJS.ErrnoException).code ?? '')) health.down(origin);
      throw error;
    }
  };

  /**
   * One request through undici's dispatcher, its answer gathered as it arrives: no Readable body, no
   * async iteration and no AsyncResource per request, which `pool.request` adds.
   */
  function send(pool: Pool, url: string, path: string, init: Parameters<Fetcher>[1] = {}): Promise<FetcherResponse> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      let status = 0;
      let headers: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      pool.dispatch(
        {
          path,
          method: (init.method ?? 'POST') as Dispatcher.HttpMethod,
          headers: init.headers as Record<string, string>,
          body: typeof init.body === 'string' ? init.body : '',
        },
        {
          // Its presence tells undici this handler speaks its current API (`onResponse*`).
          onRequestStart() {},
          onResponseStart(_controller, statusCode, responseHeaders) {
            status = statusCode;
            headers = responseHeaders;
          },
          onResponseData(controller, chunk) {
            chunks.push(chunk);
            // headersTimeout bounds the wait for the answer and bodyTimeout each pause in it; this bounds the whole.
            if (performance.now() - started > timeoutMs) controller.abort(new Error('subgraph request timed out'));
          },
          onResponseEnd() {
            const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
            resolve(answer(url, status, headers, text));
          },
          onResponseError(_controller, error) {
            reject(error);
          },
        },
      );
    });
  }
}

/** A subgraph's answer as Apollo's data source reads it (a `fetch` Response's few members it uses). */
function answer(url: string, status: number, headers: IncomingHttpHeaders, text: string): FetcherResponse {
  return {
    ok: status >= 200 && status < 300,
    status,
    statusText: STATUS_CODES[status] ?? '',
    url,
    redirected: false,
    headers: new AnswerHeaders(headers),
    text: async () => text,
    json: async () => JSON.parse(text),
    clone() {
      return this;
    },
    body: null as never,
    bodyUsed: false,
    arrayBuffer: async () => Buffer.from(text),
  } as unknown as FetcherResponse;
}

/**
 * Which subgraphs are down: marked down when a connection to it fails and up again with its next
 * answer, each logged once, so an operator sees a crashed subgraph go and come back. Every
 * request still tries it: a refused connection fails at once, and the first request after a
 * restart is served.
 */
function subgraphHealth(logger: Logger | undefined) {
  const downSince = new Map<string, number>();
  return {
    down(origin: string) {
      if (downSince.has(origin)) return;
      downSince.set(origin, Date.now());
      logger?.warn('subgraph down', { subgraph: origin });
    },
    up(origin: string) {
      const since = downSince.get(origin);
      if (since === undefined) return;
      downSince.delete(origin);
      logger?.info('subgraph back', { subgraph: origin, downMs: Date.now() - since });
    },
  };
}

/**
 * The fetcher of one subgraph: each request is timed (`subgraph_fetch_duration_seconds`, by
 * outcome: the HTTP status or `error`) and carries the W3C trace context of the fetch span
 * `@apollo/gateway` has open, so the subgraph's spans join the gateway's trace.
 */
export function observedFetcher(fetcher: Fetcher, subgraph: string, metrics: Metrics): Fetcher {
  return async (url, init = {}) => {
    const headers = { ...(init.headers as Record<string, string>) };
    injectTraceContext(headers);
    const start = performance.now();
    let outcome = 'error';
    try {
      const response = await fetcher(url, { ...init, headers });
      outcome = String(response.status);
      return response;
    } finally {
      metrics.observeFetch(subgraph, outcome, (performance.now() - start) / 1000);
    }
  };
}

/** An answer's headers as Apollo's data source reads them (`get`), over undici's lower-cased record. */
class AnswerHeaders {
  constructor(private readonly record: Record<string, string | string[] | undefined>) {}
  get(name: string): string | null {
    const value = this.record[name.toLowerCase()];
    return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
  }
  has(name: string): boolean {
    return this.record[name.toLowerCase()] !== undefined;
  }
  *entries(): IterableIterator<[string, string]> {
    for (const name of Object.keys(this.record)) {
      const value = this.get(name);
      if (value !== null) yield [name, value];
    }
  }
  [Symbol.iterator]() {
    return this.entries();
  }
  forEach(each: (value: string, name: string) => void) {
    for (const [name, value] of this.entries()) each(value, name);
  }
}
