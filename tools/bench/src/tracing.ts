import { createServer } from 'node:http';
import type { Issuer } from '@tenantgraph/devkit';
import { listen } from '@tenantgraph/server-kit';
import { cpuSecondsOf, type LoadResult, load } from './load.ts';
import { writeSection } from './sections.ts';

type Child = { process: { pid?: number | undefined } };
type Services = { gatewayUrl: string; gateway: Child; processes: Record<string, Child> };

/**
 * `bench --tracing`: what tracing costs. A second set of services (same databases, same data) runs
 * with an OTLP exporter (`http/protobuf` to a local receiver that keeps nothing, every request
 * sampled: the worst case); the dashboard load alternates between the untraced and the traced
 * gateway, round by round, so both see the same machine.
 */
export async function tracingCost(options: {
  untraced: Services;
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
    const exporter = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' };
    // A tenth of the traces (decided at the gateway, followed by the subgraphs): what docs/observability.md
    // suggests for production; and every request, the worst case.
    const settings: { label: string; env: Record<string, string> }[] = [
      { label: 'on, 10 % of traces sampled', env: { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' } },
      { label: 'on, every request sampled', env: { OTEL_TRACES_SAMPLER: 'always_on' } },
    ];
    const sets = [{ label: 'off', ...options.untraced }];
    for (const [index, setting] of settings.entries()) {
      log(`starting the services with tracing ${setting.label} (OTLP to ${receiver.url})`);
      const traced = await options.startServices({ ...exporter, ...setting.env }, `+otel${index}`);
      sets.push({ label: setting.label, ...traced });
    }
    const tokens = await Promise.all(
      Array.from({ length: connections }, (_, i) =>
        options.issuer.sign({ tenant: options.tenants[i % options.tenants.length]!, scopes: [], subject: `vu-${i}` }),
      ),
    );
    const sequences = tokens.map((token) => [{ body: options.dashboard, headers: { authorization: `Bearer ${token}` } }]);
    // Warm-up, one user at a time (JIT, pools, plan caches of every set), then a short load.
    for (const { gatewayUrl: url } of sets) {
      for (const [request] of sequences) {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...request!.headers },
          body: request!.body,
        });
        if (!response.ok) throw new Error(`warm-up of ${url} failed: ${response.status} ${await response.text()}`);
      }
      await load(url, sequences, connections, 10);
    }
    const results = sets.map(() => [] as LoadResult[]);
    // CPU of each set's processes during its own rounds, by process: where tracing's cost goes.
    const cpu = sets.map(() => ({}) as Record<string, number>);
    const cpuOf = async (set: Services) =>
      Object.fromEntries(
        await Promise.all(
          Object.entries({ ...set.processes, gateway: set.gateway }).map(
            async ([name, child]) => [name, await cpuSecondsOf(child.process.pid!)] as const,
          ),
        ),
      );
    for (let round = 1; round <= options.rounds; round++) {
      for (const [index, set] of sets.entries()) {
        const before = await cpuOf(set);
        results[index]!.push(await load(set.gatewayUrl, sequences, connections, seconds));
        const after = await cpuOf(set);
        for (const name of Object.keys(after)) cpu[index]![name] = (cpu[index]![name] ?? 0) + after[name]! - before[name]!;
      }
      log(
        `round ${round}: ${sets.map((set, index) => `tracing ${set.label} ${results[index]!.at(-1)!.requestsPerSecond.toFixed(0)} req/s (p99 ${results[index]!.at(-1)!.p99} ms)`).join(', ')}`,
      );
    }
    const mean = (list: LoadResult[], pick: (result: LoadResult) => number) =>
      list.reduce((sum, result) => sum + pick(result), 0) / list.length;
    const rates = results.map((list) => mean(list, (result) => result.requestsPerSecond));
    // Each round's sets run back to back on the same machine: the cost of a round is its own pair,
    // and the median over the rounds leaves out a round that the machine's other work spoiled.
    const costs = results.map((list) =>
      median(list.map((result, round) => (1 - result.requestsPerSecond / results[0]![round]!.requestsPerSecond) * 100)),
    );
    const errors = results.flat().reduce((sum, result) => sum + result.errors, 0);
    const cpuMs = (index: number, name?: string) => {
      const requests = results[index]!.reduce((sum, result) => sum + result.requests, 0);
      const seconds = name ? (cpu[index]![name] ?? 0) : Object.values(cpu[index]!).reduce((sum, value) => sum + value, 0);
      return (seconds * 1000) / Math.max(1, requests);
    };
    const cpuCost = (index: number) => (cpuMs(index) / cpuMs(0) - 1) * 100;
    const text = [
      `Dashboard, ${connections} connections, ${options.rounds} rounds of ${seconds} s, alternating between three sets of services on the`,
      'same databases: without an OTLP endpoint (tracing off), and exporting spans (`http/protobuf` to a local receiver that',
      'keeps nothing) with a tenth of the traces sampled, or every one.',
      '',
      '| tracing | req/s | p99 ms | cost (throughput, median of the rounds) | cost (CPU per request) | CPU ms per request: gateway | tenant | product | order | project | all |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...sets.map(
        (set, index) =>
          `| ${set.label} | ${rates[index]!.toFixed(1)} | ${mean(results[index]!, (result) => result.p99).toFixed(0)} | ` +
          `${index === 0 ? '' : `${costs[index]!.toFixed(1)} %`} | ${index === 0 ? '' : `${cpuCost(index).toFixed(1)} %`} | ` +
          `${['gateway', 'tenant', 'product', 'order', 'project'].map((name) => cpuMs(index, name).toFixed(2)).join(' | ')} | ${cpuMs(index).toFixed(2)} |`,
      ),
      '',
      `Each round's req/s, off / 10 % / every request: ${results[0]!.map((_, round) => results.map((list) => list[round]!.requestsPerSecond.toFixed(0)).join(' / ')).join('; ')}.`,
      '',
      `Goal: under 10 %. ${errors} errors; ${receiver.exports()} OTLP exports, ${(receiver.bytes() / 2 ** 20).toFixed(1)} MiB received.`,
    ].join('\n');
    console.log(`\n${text}\n`);
    await writeSection('## Tracing cost', text);
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

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
