import { unwatchFile, watchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { SupergraphSdlHook } from '@apollo/gateway';
import type { Logger } from '@tenantgraph/core';

/**
 * The supergraph from a file, reloaded when the file changes: the gateway validates the new
 * supergraph and swaps it in atomically; an invalid one is refused and the old one keeps serving.
 */
export function supergraphFromFile(path: string, logger: Logger, pollMs = 1_000): SupergraphSdlHook {
  return async ({ update }) => {
    let current = await readFile(path, 'utf8');
    const onChange = async () => {
      let next: string;
      try {
        next = await readFile(path, 'utf8');
      } catch (error) {
        return logger.warn('supergraph file unreadable; keeping the current one', { error });
      }
      if (next === current) return;
      try {
        update(next);
        current = next;
        logger.info('supergraph reloaded', { path });
      } catch (error) {
        logger.error('new supergraph refused; keeping the current one', { error });
      }
    };
    watchFile(path, { interval: pollMs }, () => void onChange());
    return { supergraphSdl: current, cleanup: async () => unwatchFile(path) };
  };
}

type SupergraphFromUrlOptions = {
  /** Time between two polls; 10 s by default. */
  pollMs?: number;
  /** One request may take this long before it counts as failed; `pollMs` (at most 10 s) by default. */
  timeoutMs?: number;
  /** Extra request headers, e.g. an `authorization` for a private artifact store. */
  headers?: Record<string, string>;
};

/**
 * The supergraph from an HTTP(S) URL (an artifact store, a bucket, a registry), polled with
 * `If-None-Match`: a 304 costs no body, a changed supergraph is validated by the gateway and
 * swapped in atomically; an invalid one, an error status or an unreachable URL keeps the
 * current one serving. The first fetch must succeed, or the gateway does not start.
 * @example createGatewayServer({ supergraph: supergraphFromUrl('https://artifacts.internal/supergraph.graphql', logger), ... })
 */
export function supergraphFromUrl(url: string, logger: Logger, options: SupergraphFromUrlOptions = {}): SupergraphSdlHook {
  const pollMs = options.pollMs ?? 10_000;
  const timeoutMs = options.timeoutMs ?? Math.min(pollMs, 10_000);
  const get = (etag: string | undefined) =>
    fetch(url, {
      headers: { accept: 'text/plain, application/graphql, */*', ...options.headers, ...(etag ? { 'if-none-match': etag } : {}) },
      signal: AbortSignal.timeout(timeoutMs),
    });

  return async ({ update }) => {
    const first = await get(undefined);
    if (!first.ok) throw new Error(`supergraph: GET ${url} answered ${first.status}`);
    let current = await first.text();
    // The ETag of the last answer seen, accepted or not: a refused supergraph is not fetched
    // (and refused, and logged) again on every poll, only once it changes.
    let etag = first.headers.get('etag') ?? undefined;
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;

    const poll = async () => {
      let response: Response;
      try {
        response = await get(etag);
      } catch (error) {
        return logger.warn('supergraph URL unreachable; keeping the current one', { url, error });
      }
      if (response.status === 304) return;
      if (!response.ok) {
        await response.body?.cancel();
        return logger.warn('supergraph URL answered an error; keeping the current one', { url, status: response.status });
      }
      let next: string;
      try {
        next = await response.text();
      } catch (error) {
        return logger.warn('supergraph download failed; keeping the current one', { url, error });
      }
      etag = response.headers.get('etag') ?? undefined;
      if (next === current || stopped) return;
      try {
        update(next);
        current = next;
        logger.info('supergraph reloaded', { url, etag });
      } catch (error) {
        logger.error('new supergraph refused; keeping the current one', { url, etag, error });
      }
    };
    // A timeout chain rather than an interval: a slow answer never overlaps the next poll.
    const schedule = () => {
      if (stopped) return;
      timer = setTimeout(() => void poll().finally(schedule), pollMs);
      timer.unref();
    };
    schedule();
    return {
      supergraphSdl: current,
      cleanup: async () => {
        stopped = true;
        clearTimeout(timer);
      },
    };
  };
}

/** A fixed supergraph (tests, benchmarks). */
export function staticSupergraph(sdl: string): SupergraphSdlHook {
  return async () => ({ supergraphSdl: sdl });
}
