import { randomBytes } from 'node:crypto';
import { Pool } from 'undici';

export type ReadMixResult = {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  /** p99 of the writes alone, and of the first dashboard after each write (what the write changed is fetched again). */
  writeP99: number;
  afterWriteP99: number;
  requests: number;
  mutations: number;
  errors: number;
  /** Tenants, one per connection. */
  tenants: number;
  /** Dashboards that showed fewer products than the tenant had after its last acknowledged write. */
  staleReads: number;
  /** Every request: when it started (ms since the mix began), what it took, and what it was. */
  samples: Sample[];
};

export type Sample = { at: number; took: number; kind: 'read' | 'write' | 'after write' };

/**
 * The read mix: `connections` virtual users, each its own tenant's, each sending 19 dashboards
 * then one `createProduct`, for `seconds`, after one untimed dashboard each (a warm-up); user k
 * starts k requests into its cycle, so the users' writes do not all fall on the same instant. After
 * a write is acknowledged, every dashboard of that tenant must count the new product: one that
 * does not is a stale read (the bench counts them).
 */
export async function readMix(url: string, users: { token: string }[], dashboard: string, seconds: number): Promise<ReadMixResult> {
  // undici rather than node:http's client: the bench shares the cores with what it measures.
  const { origin, pathname } = new URL(url);
  const pool = new Pool(origin, { connections: users.length });
  const send = async (token: string, body: string) => {
    const response = await pool.request({
      path: pathname,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body,
    });
    return response.body.text();
  };
  // Each user's first dashboard, untimed: the gateway plans the query, and its cache starts full.
  await Promise.all(users.map(({ token }) => send(token, dashboard)));
  const samples: Sample[] = [];
  let mutations = 0;
  let errors = 0;
  let staleReads = 0;
  const begun = performance.now();
  const until = Date.now() + seconds * 1000;
  const post = async (token: string, body: string, kind: Sample['kind']) => {
    const started = performance.now();
    const text = await send(token, body);
    samples.push({ at: started - begun, took: performance.now() - started, kind });
    return text;
  };
  await Promise.all(
    users.map(async ({ token }, user) => {
      let known = -1;
      let wrote = false;
      // Each user starts at another point of its cycle: independent users' writes are spread out,
      // not all sent in the same instant at the start (a burst no real mix has).
      for (let i = user % 20; Date.now() < until; i++) {
        try {
          if (i % 20 === 19) {
            const answer = JSON.parse(
              await post(
                token,
                JSON.stringify({
                  query: 'mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }',
                  variables: { i: { sku: `MIX-${randomBytes(6).toString('hex')}`, name: 'Read mix', priceCents: 100, stock: 1 } },
                }),
                'write',
              ),
            ) as { errors?: unknown[] };
            mutations++;
            wrote = true;
            if (answer.errors) errors++;
            else if (known >= 0) known++;
          } else {
            const count = productCount(await post(token, dashboard, wrote ? 'after write' : 'read'));
            wrote = false;
            if (count === undefined) {
              errors++;
              continue;
            }
            if (count < known) staleReads++;
            known = Math.max(known, count);
          }
        } catch {
          errors++;
        }
      }
    }),
  );
  await pool.close();
  const took = (kinds: Sample['kind'][]) => samples.filter((sample) => kinds.includes(sample.kind)).map((sample) => sample.took);
  const all = took(['read', 'write', 'after write']);
  return {
    tenants: users.length,
    requestsPerSecond: all.length / seconds,
    p50: quantile(all, 0.5),
    p99: quantile(all, 0.99),
    writeP99: quantile(took(['write']), 0.99),
    afterWriteP99: quantile(took(['after write']), 0.99),
    requests: all.length,
    mutations,
    errors,
    staleReads,
    samples,
  };
}

/**
 * The tenant's product count in a dashboard's answer, undefined when it carries an error: read off
 * the text (its fields come in the query's order), not parsed whole. The bench shares the cores
 * with what it measures, and parsing every answer was a quarter of its own CPU.
 */
function productCount(text: string): number | undefined {
  const count = /"products":\{"totalCount":(\d+)/.exec(text)?.[1];
  return count === undefined || text.includes('"errors":') ? undefined : Number(count);
}

/** The `q` quantile of `values` (sorted in place), in whole milliseconds. */
export function quantile(values: number[], q: number): number {
  const ordered = values.sort((a, b) => a - b);
  return Math.round(ordered[Math.min(ordered.length - 1, Math.floor(q * ordered.length))] ?? 0);
}

/** CPU milliseconds per dashboard, per process, of ours and of the issue's code (6f1290d), round by round (`--baseline`). */
export type SideBySide = { ours: Record<string, number>[]; baseline: Record<string, number>[] };

/** The sum of a record's figures. */
export const sum = (figures: Record<string, number>) => Object.values(figures).reduce((total, ms) => total + ms, 0);

/** Each process's figure averaged over the rounds. */
function meanOf(rounds: Record<string, number>[]): Record<string, number> {
  const mean: Record<string, number> = {};
  for (const round of rounds) for (const [name, ms] of Object.entries(round)) mean[name] = (mean[name] ?? 0) + ms / rounds.length;
  return mean;
}

/** The uncached figures of the rounds and the read mix, as Markdown. */
export function readMixSection(
  summary: { cpuPerRequest: Record<string, number>; rounds: { sqlPerRequest: number }[] },
  cached: ReadMixResult,
  plain: ReadMixResult,
  sideBySide: SideBySide,
): string {
  // The issue's "<= 13, from ≈ 26" was measured on a machine about half as fast as this one can be:
  // the goal is half of what the issue's code (6f1290d) costs on the same machine, in the same rounds.
  const measured = sideBySide.baseline.length > 0;
  // The first of several rounds warms both up (JIT, pools, plans): left out of the mean.
  const warm = (rounds: Record<string, number>[]) => (rounds.length > 1 ? rounds.slice(1) : rounds);
  const ours = measured ? meanOf(warm(sideBySide.ours)) : summary.cpuPerRequest;
  const baseline = meanOf(warm(sideBySide.baseline));
  const cpu = sum(ours);
  const baselineCpu = sum(baseline);
  const cpuGoal = measured
    ? `<= ${(baselineCpu / 2).toFixed(1)} (half of 6f1290d's ${baselineCpu.toFixed(1)}, side by side)`
    : "<= half of 6f1290d's on this machine (run it beside ours with `--baseline DIR`)";
  const cpuMet = measured ? (cpu <= baselineCpu / 2 ? 'yes' : 'no') : 'not measured';
  const sqlPerDashboard = summary.rounds.at(-1)?.sqlPerRequest ?? 0;
  const ratio = cached.requestsPerSecond / Math.max(plain.requestsPerSecond, 0.001);
  const row = (name: string, result: ReadMixResult) =>
    `| ${name} | ${result.requestsPerSecond.toFixed(0)} | ${result.p50} | ${result.p99} | ${result.writeP99} | ${result.afterWriteP99} | ${result.mutations} | ${result.errors} | ${result.staleReads} |`;
  return [
    '## Issue 14: the uncached path and the read mix',
    '',
    '| goal | target | measured | met |',
    '| --- | --- | --- | --- |',
    `| uncached (ENTITY_CACHE=off): CPU ms per dashboard, all processes | ${cpuGoal} | ${cpu.toFixed(1)} | ${cpuMet} |`,
    `| uncached: SQL statements per dashboard | <= 15 | ${sqlPerDashboard.toFixed(1)} | ${sqlPerDashboard <= 15 ? 'yes' : 'no'} |`,
    `| read mix: ours (entity cache) ÷ plain @apollo/gateway | >= 5 | ${ratio.toFixed(2)} | ${ratio >= 5 ? 'yes' : 'no'} |`,
    `| read mix: p99 | < 100 ms | ${cached.p99} ms | ${cached.p99 < 100 ? 'yes' : 'no'} |`,
    `| read mix: stale reads | 0 | ${cached.staleReads} | ${cached.staleReads === 0 ? 'yes' : 'no'} |`,
    '',
    `Read mix: 95 % dashboards, 5 % \`createProduct\`, one tenant per connection (${cached.tenants} tenants), each connection checking that every dashboard after its acknowledged write counts the new product.`,
    '',
    '| gateway | req/s | p50 ms | p99 ms | p99 of writes | p99 of the read after a write | writes | errors | stale reads |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    row('ours, entity cache on', cached),
    row('plain @apollo/gateway', plain),
    '',
    ...(measured ? sideBySideTable(sideBySide, ours, baseline) : []),
  ].join('\n');
}

/** The uncached CPU per dashboard of ours and of 6f1290d, per process and per round. */
function sideBySideTable(sideBySide: SideBySide, ours: Record<string, number>, baseline: Record<string, number>): string[] {
  const names = Object.keys(baseline).sort((a, b) => baseline[b]! - baseline[a]!);
  return [
    `Uncached, side by side: 6f1290d's subgraphs and gateway on the same databases, loaded right after ours in each of ${sideBySide.ours.length} round(s); CPU ms per dashboard, the mean of the rounds${sideBySide.ours.length > 1 ? ' after the first (a warm-up)' : ''}.`,
    '',
    '| process | 6f1290d | ours |',
    '| --- | ---: | ---: |',
    ...names.map((name) => `| ${name} | ${baseline[name]!.toFixed(2)} | ${(ours[name] ?? 0).toFixed(2)} |`),
    `| all | ${sum(baseline).toFixed(2)} | ${sum(ours).toFixed(2)} |`,
    '',
    `Round by round, 6f1290d ÷ ours: ${sideBySide.ours.map((round, i) => (sum(sideBySide.baseline[i]!) / sum(round)).toFixed(2)).join(', ')}.`,
    '',
  ];
}

/**
 * `--read-mix`: the percentiles of each kind of request, each process's CPU per request (the
 * bench's own included: it shares the cores), and the slowest second.
 */
export function readMixDetail(result: ReadMixResult, before: Record<string, number>, after: Record<string, number>): string {
  const tookBy = (kind?: Sample['kind']) =>
    result.samples.filter((sample) => kind === undefined || sample.kind === kind).map((sample) => sample.took);
  const row = (name: string, took: number[]) =>
    `| ${name} | ${took.length} | ${quantile(took, 0.5)} | ${quantile(took, 0.9)} | ${quantile(took, 0.99)} | ${quantile(took, 1)} |`;
  const cpu = Object.entries(after).map(
    ([name, seconds]) => [name, ((seconds - before[name]!) * 1000) / Math.max(1, result.requests)] as const,
  );
  const bySecond = new Map<number, number[]>();
  for (const { at, took } of result.samples) {
    const second = Math.floor(at / 1000);
    bySecond.set(second, [...(bySecond.get(second) ?? []), took]);
  }
  return [
    `Read mix: ${result.requestsPerSecond.toFixed(0)} req/s, ${result.tenants} tenants, ${result.errors} errors, ${result.staleReads} stale reads.`,
    '',
    '| requests | count | p50 ms | p90 ms | p99 ms | max ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    row('all', tookBy()),
    ...(['read', 'write', 'after write'] as const).map((kind) => row(kind, tookBy(kind))),
    '',
    '| process | CPU ms per request |',
    '| --- | ---: |',
    ...cpu.map(([name, ms]) => `| ${name} | ${ms.toFixed(2)} |`),
    `| all | ${cpu.reduce((total, [, ms]) => total + ms, 0).toFixed(2)} |`,
    '',
    `p99 by second: ${[...bySecond].map(([second, took]) => `${second}:${quantile(took, 0.99)}`).join(' ')}`,
  ].join('\n');
}

/**
 * What the read mix's gateway says of it, from its Prometheus metrics: how late its event loop ran
 * (every visit of a request waits for it) and how long each subgraph's fetches took as it saw them.
 */
export function gatewayView(metrics: string): string {
  const value = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(metrics)?.[1] ?? Number.NaN);
  const fetches = new Map<string, { count: number; seconds: number }>();
  for (const [, kind, subgraph, figure] of metrics.matchAll(
    /^subgraph_fetch_duration_seconds_(sum|count)\{[^}]*subgraph="([^"]+)"[^}]*\} (\S+)$/gm,
  )) {
    const seen = fetches.get(subgraph!) ?? { count: 0, seconds: 0 };
    if (kind === 'count') seen.count += Number(figure);
    else seen.seconds += Number(figure);
    fetches.set(subgraph!, seen);
  }
  const ms = (seconds: number) => (seconds * 1000).toFixed(1);
  return [
    `Gateway event loop lag (10 ms resolution): mean ${ms(value('nodejs_eventloop_lag_mean_seconds'))} ms, p99 ${ms(value('nodejs_eventloop_lag_p99_seconds'))} ms.`,
    `Subgraph fetches as the gateway saw them: ${[...fetches]
      .map(([subgraph, { count, seconds }]) => `${subgraph} ${count} (mean ${ms(seconds / Math.max(1, count))} ms)`)
      .join(', ')}.`,
  ].join('\n');
}
