import type { LoadResult } from './load.ts';
import type { Volume } from './seed.ts';

export type Round = {
  round: number;
  ours: LoadResult;
  plain: LoadResult;
  slowest: string;
  ceiling: LoadResult;
  ceilings: Record<string, LoadResult>;
  mutations: LoadResult;
  /** SQL statements per dashboard request during the round (all subgraphs). */
  sqlPerRequest: number;
};

export type Summary = {
  volume: Volume;
  connections: number;
  seconds: number;
  rounds: Round[];
  sql5: number;
  sql100: number;
  /** Gateway RSS in MiB before the first round and after each of ours. */
  memory: number[];
  peak: number;
  largest: LoadResult;
  smallest: LoadResult;
  quick: boolean;
  /** CPU milliseconds per dashboard request, per process, in the last round of ours. */
  cpuPerRequest: Record<string, number>;
  /** CPU milliseconds per dashboard request of the plain gateway process, in the last round. */
  plainGatewayCpu: number;
  elapsed: number;
};

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const fixed = (value: number, digits = 0) => value.toFixed(digits);

/** The figures as a terminal table and as the Markdown of BENCHMARKS.md. */
export function writeReport(summary: Summary) {
  const { rounds } = summary;
  const pick = (select: (round: Round) => LoadResult) => ({
    rps: median(rounds.map((round) => select(round).requestsPerSecond)),
    p50: median(rounds.map((round) => select(round).p50)),
    p90: median(rounds.map((round) => select(round).p90)),
    p99: median(rounds.map((round) => select(round).p99)),
    errors: rounds.reduce((sum, round) => sum + select(round).errors, 0),
  });
  const ours = pick((round) => round.ours);
  const plain = pick((round) => round.plain);
  const ceiling = pick((round) => round.ceiling);
  const mutations = pick((round) => round.mutations);
  const oursOverPlain = ours.rps / plain.rps;
  const oursOverCeiling = ours.rps / ceiling.rps;
  const plainOverCeiling = plain.rps / ceiling.rps;
  const pageRatio = summary.largest.p50 / Math.max(summary.smallest.p50, 0.001);
  const slowest = rounds.map((round) => round.slowest).join(', ');

  const rows = [
    ['ours (gateway + JWT + plugins)', ours],
    ['plain @apollo/gateway', plain],
    [`ceiling: slowest subgraph alone (${slowest})`, ceiling],
    ['mutation mix (placeOrder, createTask)', mutations],
  ] as const;
  const table = [
    '| run | req/s | p50 ms | p90 ms | p99 ms | errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(([name, r]) => `| ${name} | ${fixed(r.rps)} | ${r.p50} | ${r.p90} | ${r.p99} | ${r.errors} |`),
  ];
  const goals = [
    '| goal | target | measured | met |',
    '| --- | --- | --- | --- |',
    `| SQL per request, page of 5 vs 100 | equal | ${summary.sql5} vs ${summary.sql100} | ${summary.sql5 === summary.sql100 ? 'yes' : 'no'} |`,
    `| ours ÷ plain (dashboard) | ≥ 1.5 | ${fixed(oursOverPlain, 2)} | ${oursOverPlain >= 1.5 ? 'yes' : 'no'} |`,
    `| ours ÷ ceiling | ≥ 0.3 (plain: ${fixed(plainOverCeiling, 2)}) | ${fixed(oursOverCeiling, 2)} | ${oursOverCeiling >= 0.3 ? 'yes' : 'no'} |`,
    `| p99 at ${summary.connections} connections | < 100 ms | ${ours.p99} ms | ${ours.p99 < 100 ? 'yes' : 'no'} |`,
    `| errors | 0 | ${ours.errors + mutations.errors} | ${ours.errors + mutations.errors === 0 ? 'yes' : 'no'} |`,
    // RSS saws with each major GC, so a few samples between rounds say little: `--soak` judges it.
    `| gateway memory (RSS after each round of ours) | flat (±10 %) over 5 min | ${summary.memory.map((mib) => fixed(mib)).join(' → ')} MiB, peak ${fixed(summary.peak)} MiB | see \`--soak\` |`,
    `| page at largest ÷ smallest tenant (p50) | ≤ 1.2 | ${summary.largest.p50} / ${summary.smallest.p50} ms = ${fixed(pageRatio, 2)} | ${pageRatio <= 1.2 ? 'yes' : 'no'} |`,
  ];
  const perRound = [
    '| round | ours | plain | ceiling (slowest) | each subgraph alone | SQL/request | mutations |',
    '| ---: | ---: | ---: | ---: | --- | ---: | ---: |',
    ...rounds.map(
      (round) =>
        `| ${round.round} | ${fixed(round.ours.requestsPerSecond)} | ${fixed(round.plain.requestsPerSecond)} | ${fixed(round.ceiling.requestsPerSecond)} (${round.slowest}) | ${Object.entries(
          round.ceilings,
        )
          .map(([name, result]) => `${name} ${fixed(result.requestsPerSecond)}`)
          .join(', ')} | ${fixed(round.sqlPerRequest, 1)} | ${fixed(round.mutations.requestsPerSecond)} |`,
    ),
  ];
  const cpuTotal = Object.values(summary.cpuPerRequest).reduce((a, b) => a + b, 0);
  const cpuTable = [
    '| process | CPU ms per dashboard request | share |',
    '| --- | ---: | ---: |',
    ...Object.entries(summary.cpuPerRequest)
      .sort((a, b) => b[1] - a[1])
      .map(([name, ms]) => `| ${name} | ${fixed(ms, 2)} | ${fixed((ms / cpuTotal) * 100)} % |`),
    `| all | ${fixed(cpuTotal, 2)} | 100 % |`,
    '',
    `The plain @apollo/gateway process, in its own rounds: ${fixed(summary.plainGatewayCpu, 2)} ms per dashboard request (ours: ${fixed(summary.cpuPerRequest.gateway ?? 0, 2)}).`,
  ];
  const setup = `${summary.volume.tenants} tenants (largest: ${summary.volume.products} products, ${summary.volume.orders} orders; others ${summary.volume.smallProducts}/${summary.volume.smallOrders}), ${summary.connections} connections, one distinct token per connection, ${summary.seconds} s per run, ${rounds.length} alternating round(s); ${summary.elapsed.toFixed(0)} s in all.`;
  const text = [
    '',
    `Benchmark: ${setup}`,
    '',
    ...table,
    '',
    ...goals,
    '',
    ...perRound,
    '',
    "Where the time goes (our gateway's rounds):",
    '',
    ...cpuTable,
    '',
  ].join('\n');
  return { text, markdown: text };
}
