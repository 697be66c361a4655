import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';

/** What one subscription received: each `next` payload, and how it ended. */
type Received = {
  results: { data?: any; errors?: any[] }[];
  /** Resolves with the errors the subscription ended with, or `complete`. */
  ended: Promise<{ errors?: any[]; complete?: true }>;
};

/**
 * A graphql-ws client of the gateway over a real WebSocket, with the token in
 * `connectionParams.authorization`; `closed` resolves with the socket's close code and reason.
 * @example const socket = subscriber(httpUrl, token); const received = socket.subscribe('subscription { projectCreated { name } }')
 */
export function subscriber(httpUrl: string, token: string | undefined, connectionParams: Record<string, unknown> = {}) {
  let closedWith: (event: { code: number; reason: string }) => void = () => {};
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    closedWith = resolve;
  });
  const client: Client = createClient({
    url: httpUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: token === undefined ? connectionParams : { ...connectionParams, authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: false,
    // Errors surface in `closed` and in each subscription's `ended`; nothing is retried.
    onNonLazyError: () => {},
    on: { closed: (event) => closedWith(event as { code: number; reason: string }) },
  });
  return {
    closed,
    subscribe(query: string, variables?: Record<string, unknown>): Received {
      const results: Received['results'] = [];
      const ended = new Promise<{ errors?: any[]; complete?: true }>((resolve) => {
        client.subscribe(
          { query, variables },
          {
            next: (result) => results.push(result as Received['results'][number]),
            error: (error) => resolve({ errors: Array.isArray(error) ? error : [error] }),
            complete: () => resolve({ complete: true }),
          },
        );
      });
      return { results, ended };
    },
    close: () => client.dispose(),
  };
}

/** Waits until `condition` holds, checking every 20 ms; fails after `timeoutMs` with `what`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
