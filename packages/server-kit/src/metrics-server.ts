import { createServer } from 'node:http';
import type { Logger } from '@tenantgraph/core';
import { AggregatorRegistry, type Registry, type RegistryContentType } from 'prom-client';
import { closeGracefully, listen, sendJson } from './http.ts';

/** Where the metrics listener binds by default: loopback, so only the host (or a sidecar scraper) reaches it. */
export const DEFAULT_METRICS_HOST = '127.0.0.1';

export type MetricsServer = {
  /** Listens on `port` (0 picks a free one) and resolves with the bound port. */
  start(port: number, host?: string): Promise<number>;
  stop(): Promise<void>;
};

/**
 * The Prometheus listener of a service (`METRICS_PORT`, `METRICS_HOST`), apart from its API port:
 * the metrics name every active tenant, so they must never be served where clients call. Only
 * `GET /metrics` answers; `render` gives the text (a registry's, or a cluster's aggregate).
 * @example
 * const metricsServer = createMetricsServer({ registry: metrics.registry, logger })
 * await metricsServer.start(env.METRICS_PORT, env.METRICS_HOST)
 */
export function createMetricsServer(options: {
  registry: Registry<RegistryContentType>;
  logger: Logger;
  /** Defaults to the registry's own text. */
  render?: () => Promise<string>;
}): MetricsServer {
  const { registry, logger } = options;
  const render = options.render ?? (() => registry.metrics());
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/metrics') return sendJson(res, 404, { error: 'not found' });
    render().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
        res.end(text);
      },
      (error: unknown) => {
        logger.error('metrics failed', { error });
        sendJson(res, 500, { error: 'metrics unavailable' });
      },
    );
  });
  return {
    async start(port, host = DEFAULT_METRICS_HOST) {
      const bound = await listen(server, port, host);
      logger.info('metrics listening', { port: bound, host });
      return bound;
    },
    stop: () => closeGracefully(server, 1_000),
  };
}

/**
 * For the primary process of a `node:cluster` service: one listener whose `/metrics` sums the
 * metrics of every worker (asked over IPC at each scrape); each worker calls `reportMetricsToPrimary`.
 * @example if (cluster.isPrimary) await clusterMetricsServer(logger).start(env.METRICS_PORT, env.METRICS_HOST)
 */
export function clusterMetricsServer(logger: Logger): MetricsServer {
  const aggregator = new AggregatorRegistry();
  return createMetricsServer({ registry: aggregator, logger, render: () => aggregator.clusterMetrics() });
}

/** In a cluster worker: the registry the primary's `clusterMetricsServer` collects. */
export function reportMetricsToPrimary(registry: Registry<RegistryContentType>) {
  // Constructing one installs prom-client's IPC listener in this worker; it answers with `registry`.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
}
