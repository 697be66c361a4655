import { createServer } from 'node:http';
import type { Issuer } from '@tenantgraph/devkit';
import { listen } from '@tenantgraph/server-kit';
import { type LoadResult, load } from './load.ts';

type Services = { gatewayUrl: string };

/**
 * `bench --tracing`: what tracing costs. A second set of services (same databases, same data) runs
 * with an OTLP exporter (`http/protobuf` to a local receiver that keeps nothing, every request
 * sampled: the worst case); the dashboard load alternates between the untraced and the traced
 * gateway, round by round, so both see the same machine.
 */
export async function tracingCost(options: {
  untracedUrl: string;
  startServices(extra: Record<string, string>, tag: string): Promise<Services>;
  issuer: Issuer;
  tenants: string[];
  dashboard: string;
  connections: number;
  seconds: number;
  rounds: number;
  log(line: string): void;
}): Promise<number> {
  const { log, connections } = options;
  // Rounds shorter than this count mostly the slowest first requests.
  const seconds = Math.max(options.seconds, 10);
  const receiver = await otlpSink();
  try {
    log(`starting the traced services (OTLP to ${receiver.url})`);
    const traced = await options.startServices(
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_TRACES_SAMPLER: 'always_on' },
      '+otel',
    );
    const tokens = await Promise.all(
      Array.from({ length: connections }, (_, i) =>
        options.issuer.sign({ tenant: options.tenants[i % options.tenants.length]!, scopes: [], subject: `vu-${i}` }),
      ),
    );
    const sequences = tokens.map((token) => [{ body: options.dashboard, headers: { authorization: `Bearer ${token}` } }]);
    // Warm-up, one user at a time (JIT, pools, plan caches of both sets), then a short load.
    for (const url of [options.untracedUrl, traced.gatewayUrl]) {
      for (const [request] of sequences) {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...request!.headers },
          body: request!.body,
        });
        if (!response.ok) throw new Error(`warm-up of ${url} failed: ${response.status} ${await response.text()}`);
      }
      await load(url, sequences, connections, 3);
    }
    const off: LoadResult[] = [];
    const on: LoadResult[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      off.push(await load(options.untracedUrl, sequences, connections, seconds));
      on.push(await load(traced.gatewayUrl, sequences, connections, seconds));
      log(
        `round ${round}: tracing off ${off.at(-1)!.requestsPerSecond.toFixed(0)} req/s (p99 ${off.at(-1)!.p99} ms), ` +
          `on ${on.at(-1)!.requestsPerSecond.toFixed(0)} req/s (p99 ${on.at(-1)!.p99} ms)`,
      );
    }
    const mean = (results: LoadResult[], pick: (result: LoadResult) => number) =>
      results.reduce((sum, result) => sum + pick(result), 0) / results.length;
    const offRate = mean(off, (result) => result.requestsPerSecond);
    const onRate = mean(on, (result) => result.requestsPerSecond);
    const cost = ((offRate - onRate) / offRate) * 100;
    const errors = [...off, ...on].reduce((sum, result) => sum + result.errors, 0);
    console.log(
      [
        '',
        `Tracing cost (dashboard, ${connections} connections, ${options.rounds} × ${seconds} s each, alternating):`,
        `  off: ${offRate.toFixed(1)} req/s, p99 ${mean(off, (result) => result.p99).toFixed(0)} ms`,
        `  on:  ${onRate.toFixed(1)} req/s, p99 ${mean(on, (result) => result.p99).toFixed(0)} ms (every request sampled; ${receiver.exports()} OTLP exports, ${(receiver.bytes() / 2 ** 20).toFixed(1)} MiB received)`,
        `  cost: ${cost.toFixed(1)} % of throughput (goal: under 10 %); ${errors} errors`,
        '',
      ].join('\n'),
    );
    return errors === 0 ? 0 : 1;
  } finally {
    await receiver.close();
  }
}

/** An OTLP/HTTP receiver that counts what it is sent and keeps nothing, standing in for a collector. */
async function otlpSink() {
  let exports = 0;
  let bytes = 0;
  const server = createServer((req, res) => {
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    req.on('end', () => {
      exports += 1;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  const port = await listen(server, 0, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${port}`,
    exports: () => exports,
    bytes: () => bytes,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
