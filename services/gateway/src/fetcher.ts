import { Agent, request } from 'node:http';
import type { RemoteGraphQLDataSource } from '@apollo/gateway';
import type { Logger } from '@tenantgraph/core';
import type { Metrics } from '@tenantgraph/server-kit';
import { injectTraceContext } from '@tenantgraph/telemetry';

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
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

/**
 * The gateway's HTTP client for subgraphs: keep-alive sockets with a bound per host, a timeout
 * on every fetch, and no retries (a retried mutation could run twice).
 */
export function createSubgraphFetcher({ maxSockets, timeoutMs, logger }: FetcherOptions): Fetcher {
  // An idle socket is dropped after 30 s, well before the subgraph server's keep-alive timeout,
  // so the agent never reuses a socket the server is closing.
  const agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo', timeout: 30_000 });
  const health = subgraphHealth(logger);
  return async (url, init = {}) => {
    const origin = new URL(url).origin;
    try {
      const response = await send(url, init);
      health.up(origin);
      return response;
    } catch (error) {
      if (UNREACHABLE.has((error as NodeJS.ErrnoException).code ?? '')) health.down(origin);
      throw error;
    }
  };

  function send(url: string, init: Parameters<Fetcher>[1] = {}) {
    return new Promise<FetcherResponse>((resolve, reject) => {
      const body = typeof init.body === 'string' ? init.body : '';
      const headers = { ...(init.headers as Record<string, string>), 'content-length': String(Buffer.byteLength(body)) };
      const req = request(url, { method: init.method ?? 'POST', headers, agent, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          clearTimeout(deadline);
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (typeof value === 'string') responseHeaders.set(name, value);
          }
          resolve({
            ok: status >= 200 && status < 300,
            status,
            statusText: res.statusMessage ?? '',
            url,
            redirected: false,
            headers: responseHeaders,
            text: async () => text,
            json: async () => JSON.parse(text),
            clone() {
              return this;
            },
            body: null as never,
            bodyUsed: false,
            arrayBuffer: async () => Buffer.from(text),
          } as unknown as FetcherResponse);
        });
      });
      // `timeout` above covers idle sockets; this covers a subgraph that trickles its answer.
      const deadline = setTimeout(() => req.destroy(new Error('subgraph request timed out')), timeoutMs);
      req.on('timeout', () => req.destroy(new Error('subgraph request timed out')));
      req.on('error', (error) => {
        clearTimeout(deadline);
        reject(error);
      });
      req.end(body);
    });
  }
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
