// `pnpm bench --noisy`: does one tenant's worst keep another tenant's latency? Tenant A sends the
// worst legal queries from many connections as fast as its limits allow; tenant B sends the
// dashboard at a fixed rate, first alone (quiet), then while A attacks (noisy).
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Child } from '@tenantgraph/cli/processes';
import type { Issuer } from '@tenantgraph/devkit';
import { cpuSecondsOf, memoryOf } from './load.ts';

/** The query of issue 9: depth 9, passes the depth limit, multiplies rows at every level. */
export const NESTED = `{ tenant { organizations { projects { organization { projects { organization { projects {
  organization { projects { id name } } } } } } } } } }`;
/** The same through a paged list whose size comes from a variable (n = 100, the largest page). */
export const NESTED_VARIABLE = `query Nested($n: Int!) { tenant { projects(first: $n) { nodes { organization { projects {
  organization { projects { organization { projects { id name } } } } } } } } } }`;

/** What keeps B's latency while A attacks: part of the section, so that it is rewritten with the figures. */
const HOW_B_IS_KEPT = [
  "What keeps B's latency: A's over-budget queries are refused with QUERY_TOO_EXPENSIVE before they are admitted, each",
  "taking 10 requests of A's rate limit (so A's loop soon gets 429s decided from its token alone);",
  "every admitted operation spends its estimated cost from its tenant's cost per second (`COST_RATE_PRO` 50 000, twice",
  "that at once), so A's dashboards with pages of 100 (cost 20 623) run about twice a second, not back to back (429,",
  "`Retry-After` beyond); at the gateway an operation holds one of its tenant's slots per 2 500 of estimated cost",
  "(`CONCURRENCY_COST_PER_SLOT`), so such a dashboard takes 9 of PRO's 16 and A runs one of them at a time, however",
  "many connections it opens, while B's dashboard (cost 4 463) takes 2; once A holds all its slots its further",
  'requests are refused (429) before their body is read; when the gateway is full, the next slot goes to the waiting',
  'tenant holding the fewest.',
];

export type NoisyOptions = {
  gatewayUrl: string;
  issuer: Issuer;
  /** The noisy tenant and the quiet one. */
  attacker: string;
  victim: string;
  /** The gateway and the subgraphs, by name: watched for CPU, peak memory and death. */
  processes: Record<string, Child>;
  /** Each subgraph's `/metrics`, to see whether a refused query reached it. */
  metricsUrls: Record<string, string>;
  /** B's dashboard request body, and A's largest legal page of it. */
  dashboard: string;
  largestDashboard: string;
  seconds: number;
  /** B's requests per second. */
  rate: number;
  /** A's connections. */
  connections: number;
  benchDir: string;
  log(line: string): void;
};

type Latencies = {
  requests: number;
  errors: number;
  p50: number;
  p99: number;
  max: number;
  byCode: Record<string, number>;
  slowest: string[];
};

/** Runs the quiet and the noisy phase and returns the report (terminal and Markdown) and whether every goal was met. */
export async function noisyNeighbour(options: NoisyOptions) {
  const { issuer, attacker, victim, log } = options;
  const scopes = ['tenant:admin', 'products:write', 'orders:write', 'projects:write'];
  const sign = (tenant: string) => issuer.sign({ tenant, scopes, subject: `${tenant}-user` });
  const [attackerToken, victimToken] = await Promise.all([sign(attacker), sign(victim)]);
  const attackBodies = [
    JSON.stringify({ query: NESTED }),
    JSON.stringify({ query: NESTED_VARIABLE, variables: { n: 100 } }),
    options.largestDashboard,
  ];

  const cpu = () =>
    Promise.all(Object.entries(options.processes).map(async ([name, child]) => [name, await cpuSecondsOf(child.process.pid!)] as const));
  log(`quiet: B sends the dashboard at ${options.rate}/s for ${options.seconds} s, after 5 s of warm-up`);
  const loads = { quiet: loadavg()[0]!, noisy: 0 };
  // Unmeasured: the first answers of a fresh platform (query plans, pool connections, JIT) are a cold start, not B's latency.
  const warm = await fixedRate(options.gatewayUrl, options.dashboard, victimToken, options.rate, 5);
  log(
    `warm-up: ${warm.requests} requests, p50 ${warm.p50.toFixed(0)} ms, max ${warm.max.toFixed(0)} ms, errors ${byCount(warm.byCode) || 'none'}`,
  );
  const cpuQuiet = await cpu();
  const quiet = await fixedRate(options.gatewayUrl, options.dashboard, victimToken, options.rate, options.seconds);
  const cpuMiddle = await cpu();
  log(`quiet: slowest answers at ${quiet.slowest.join('; ')}`);

  // After the quiet phase: a query that is not refused may go on loading a subgraph after its answer.
  // Over budget means refused at the gateway: the subgraphs must not see the request at all.
  const seenBefore = await subgraphRequestsOf(options.metricsUrls, attacker);
  const refusals: string[] = [];
  for (const body of attackBodies.slice(0, 2)) refusals.push(await codeOf(options.gatewayUrl, body, attackerToken));
  const reachedSubgraphs = (await subgraphRequestsOf(options.metricsUrls, attacker)) - seenBefore;
  log(`A's worst queries alone: ${refusals.join(', ')}; subgraph requests they caused: ${reachedSubgraphs}`);

  log(`noisy: A attacks from ${options.connections} connections while B sends the dashboard at ${options.rate}/s`);
  loads.noisy = loadavg()[0]!;
  const cpuNoisy = await cpu();
  const out = join(tmpdir(), `bench-attacker-${process.pid}.json`);
  const attack = spawn(process.execPath, ['--import', 'tsx', 'src/attacker.ts'], {
    cwd: options.benchDir,
    stdio: 'inherit',
    env: {
      ...process.env,
      URL: options.gatewayUrl,
      TOKEN: attackerToken,
      BODIES: JSON.stringify(attackBodies),
      CONNECTIONS: String(options.connections),
      // A starts before B and stops after it: B's whole phase is under attack.
      DURATION_S: String(options.seconds + 6),
      OUT: out,
    },
  });
  const attackDone = new Promise((resolve) => attack.once('exit', resolve));
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const noisy = await fixedRate(options.gatewayUrl, options.dashboard, victimToken, options.rate, options.seconds);
  log(`noisy: slowest answers at ${noisy.slowest.join('; ')}`);
  await attackDone;
  const cpuAfter = await cpu();
  const attackCounts = JSON.parse(await readFile(out, 'utf8').catch(() => '{}')) as Record<string, number>;
  await rm(out, { force: true });
  const attackRequests = Object.values(attackCounts).reduce((sum, n) => sum + n, 0);

  const processes = await Promise.all(
    Object.entries(options.processes).map(async ([name, child]) => {
      const alive = child.process.exitCode === null && child.process.signalCode === null;
      const peak = alive ? (await memoryOf(child.process.pid!)).peak : Number.NaN;
      const [quietCpu, middleCpu, noisyCpu, afterCpu] = [cpuQuiet, cpuMiddle, cpuNoisy, cpuAfter].map(
        (sample) => sample.find(([key]) => key === name)![1],
      ) as [number, number, number, number];
      return {
        name,
        alive,
        peak,
        quietMs: ((middleCpu - quietCpu) * 1000) / Math.max(1, quiet.requests),
        noisyMs: ((afterCpu - noisyCpu) * 1000) / Math.max(1, noisy.requests + attackRequests),
      };
    }),
  );

  const ratio = noisy.p99 / Math.max(1, quiet.p99);
  const [load1] = loadavg();
  const everyAlive = processes.every((process) => process.alive);
  const peakRss = Math.max(...processes.map((process) => process.peak));
  const refusedEarly = refusals.every((code) => code === 'QUERY_TOO_EXPENSIVE') && reachedSubgraphs === 0;
  const goals = [
    // Without a clean quiet phase (the machine could not serve B alone) there is nothing to compare with.
    [
      'B p99 noisy ÷ quiet',
      '≤ 1.5, quiet phase without errors',
      `${noisy.p99.toFixed(0)} / ${quiet.p99.toFixed(0)} ms = ${ratio.toFixed(2)}${quiet.errors > 0 ? ` (quiet phase: ${quiet.errors} errors)` : ''}`,
      ratio <= 1.5 && quiet.errors === 0,
    ],
    ['B errors (quiet + noisy)', '0', String(quiet.errors + noisy.errors), quiet.errors + noisy.errors === 0],
    ['processes alive after the run', 'all', `${processes.filter((process) => process.alive).length} of ${processes.length}`, everyAlive],
    ['peak RSS of any process', '< 512 MiB', `${peakRss.toFixed(0)} MiB`, everyAlive && peakRss < 512],
    [
      "A's over-budget queries refused before any subgraph",
      'QUERY_TOO_EXPENSIVE, 0 subgraph requests',
      `${refusals.join(', ')}; ${reachedSubgraphs}`,
      refusedEarly,
    ],
  ] as const;
  const lines = [
    `Tenant B (\`${victim}\`) sends the dashboard at ${options.rate} requests/s for ${options.seconds} s, first alone,`,
    `then while tenant A (\`${attacker}\`, the largest) sends, from ${options.connections} connections, the depth-9 query`,
    'of issue 9, its `first: $n` variant and the dashboard with pages of 100, as fast as its limits allow (each',
    "connection waits out a 429's `Retry-After`). Load average of the machine (other work included) at the start of",
    `the quiet phase ${loads.quiet.toFixed(1)}, of the noisy phase ${loads.noisy.toFixed(1)}, at the end ${load1!.toFixed(1)}.`,
    'B first sends 5 s unmeasured (warm-up): the query plans, pool connections and JIT of a fresh platform are a cold start.',
    '',
    ...HOW_B_IS_KEPT,
    '',
    '| B | requests | p50 ms | p99 ms | max ms | errors | errors by code |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
    ...(
      [
        ['quiet', quiet],
        ['noisy', noisy],
      ] as const
    ).map(
      ([phase, b]) =>
        `| ${phase} | ${b.requests} | ${b.p50.toFixed(0)} | ${b.p99.toFixed(0)} | ${b.max.toFixed(0)} | ${b.errors} | ${byCount(b.byCode) || 'none'} |`,
    ),
    '',
    `A's answers by code (${attackRequests} in ${options.seconds + 6} s): ${byCount(attackCounts)}.`,
    '',
    '| process | peak RSS MiB | CPU ms per request, quiet | CPU ms per request, noisy (A and B) | alive |',
    '| --- | ---: | ---: | ---: | --- |',
    ...processes.map(
      (process) =>
        `| ${process.name} | ${process.peak.toFixed(0)} | ${process.quietMs.toFixed(2)} | ${process.noisyMs.toFixed(2)} ` +
        `| ${process.alive ? 'yes' : 'NO'} |`,
    ),
    '',
    '| goal | target | measured | met |',
    '| --- | --- | --- | --- |',
    ...goals.map(([goal, target, measured, met]) => `| ${goal} | ${target} | ${measured} | ${met ? 'yes' : 'no'} |`),
    '',
  ];
  return { text: lines.join('\n'), ok: goals.every(([, , , met]) => met) };
}

/** Sends `body` at `rate` per second for `seconds`, each on time whatever the answers before it (open loop). */
async function fixedRate(url: string, body: string, token: string, rate: number, seconds: number): Promise<Latencies> {
  const latencies: number[] = [];
  const byCode: Record<string, number> = {};
  const timeline: { at: number; ms: number; code: string | undefined }[] = [];
  const pending: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < rate * seconds; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(
      (async () => {
        const sent = performance.now();
        let code: string | undefined;
        try {
          const response = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body,
            signal: AbortSignal.timeout(30_000),
          });
          code = errorCodeOf(response.status, await response.text());
        } catch (error) {
          code = (error as Error).name === 'TimeoutError' ? 'client timeout' : 'transport error';
        }
        latencies.push(performance.now() - sent);
        timeline.push({ at: sent - start, ms: performance.now() - sent, code });
        if (code) byCode[code] = (byCode[code] ?? 0) + 1;
      })(),
    );
  }
  await Promise.all(pending);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  const errors = Object.values(byCode).reduce((sum, n) => sum + n, 0);
  // When in the phase the slowest answers came, to tell a cold start from a stall.
  const slowest = timeline
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 8)
    .map(({ at, ms, code }) => `${(at / 1000).toFixed(1)} s: ${ms.toFixed(0)} ms${code ? ` ${code}` : ''}`);
  return { requests: latencies.length, errors, p50: at(0.5), p99: at(0.99), max: latencies.at(-1) ?? 0, byCode, slowest };
}

/** `CODE n, CODE n`, most frequent first. */
const byCount = (counts: Record<string, number>) =>
  Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');

/** The first error's code of an answer (with the path it came from), its HTTP status when it has none, nothing when it is clean. */
function errorCodeOf(status: number, text: string): string | undefined {
  let parsed: { errors?: { extensions?: { code?: string }; path?: unknown[] }[] } = {};
  try {
    parsed = JSON.parse(text);
  } catch {
    return `HTTP ${status}`;
  }
  const first = parsed.errors?.[0];
  if (!first) return status >= 200 && status < 300 ? undefined : `HTTP ${status}`;
  const path = first.path ? ` at ${first.path.filter((part) => typeof part === 'string').join('.')}` : '';
  return `${first.extensions?.code ?? `HTTP ${status}`}${path}`;
}

async function codeOf(url: string, body: string, token: string): Promise<string> {
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
  const response = await fetch(url, { method: 'POST', headers, body });
  const parsed = JSON.parse(await response.text()) as { errors?: { extensions?: { code?: string } }[] };
  return parsed.errors?.[0]?.extensions?.code ?? 'answered';
}

/** GraphQL requests of `tenant` served so far (not refused for its concurrency), over every subgraph. */
async function subgraphRequestsOf(metricsUrls: Record<string, string>, tenant: string): Promise<number> {
  let total = 0;
  for (const url of Object.values(metricsUrls)) {
    for (const line of (await (await fetch(url)).text()).split('\n')) {
      const counted =
        line.startsWith('graphql_request_duration_seconds_count{') &&
        line.includes(`tenant="${tenant}"`) &&
        !line.includes('outcome="TOO_MANY_REQUESTS"');
      if (counted) total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}
