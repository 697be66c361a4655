import { readFile } from 'node:fs/promises';
import { watchFile, unwatchFile } from 'node:fs';
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

/** A fixed supergraph (tests, benchmarks). */
export function staticSupergraph(sdl: string): SupergraphSdlHook {
  return async () => ({ supergraphSdl: sdl });
}
