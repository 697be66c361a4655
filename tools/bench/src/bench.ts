// `pnpm bench [--quick] [--noisy] [--tracing]`: our gateway under load, side by side with plain @apollo/gateway and the
// slowest subgraph alone, on the same seeded data, in alternating rounds. See BENCHMARKS.md.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Child, runService, stopChild, waitUntilHealthy } from '@tenantgraph/cli/processes';
import { connect, migrateToLatest, withDatabaseName } from '@tenantgraph/database';
import { createIssuer, dropDatabase, ensureDatabase, freePort, serveJwks, startEmbeddedPostgres, urlFor } from '@tenantgraph/devkit';
import { migrationsFolder as orderMigrations } from '@tenantgraph/order/migrations';
import { migrationsFolder as productMigrations } from '@tenantgraph/product/migrations';
import { migrationsFolder as projectMigrations } from '@tenantgraph/project/migrations';
import { migrationsFolder as tenantMigrations } from '@tenantgraph/tenant/migrations';
import { sql } from 'kysely';
import { eventsBench } from './events.ts';
import {
  cpuSecondsOf,
  type LoadRequest,
  type LoadResult,
  load,
  memoryOf,
  postgresCpuSeconds,
  postmasterOf,
  recordingHop,
  sqlCount,
} from './load.ts';
import { noisyNeighbour } from './noisy.ts';
import { gatewayView, readMix, readMixDetail, readMixSection, type SideBySide, sum } from './read-mix.ts';
import { type Round, writeReport } from './report.ts';
import { keptSections, writeSection } from './sections.ts';
import { seedVolume, tenantIds, type Volume } from './seed.ts';
import { subscriptionBench } from './subscriptions.ts';
import { tracingCost } from './tracing.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SUBGRAPHS = ['tenant', 'product', 'order', 'project'] as const;
type Subgraph = (typeof SUBGRAPHS)[number];
const MIGRATIONS: Record<Subgraph, string> = {
  tenant: tenantMigrations,
  product: productMigrations,
  order: orderMigrations,
  project: projectMigrations,
};
const SCOPES = ['tenant:admin', 'products:write', 'orders:write', 'projects:write'];

const DASHBOARD = `query Dashboard($first: Int!) {
  tenant {
    id name plan
    products(first: $first) { totalCount nodes { id sku name priceCents stock unitsOrdered } }
    orders(first: $first) { totalCount nodes { id number status totalCents lines { quantity unitPriceCents product { id name } } } }
    organizations { id name memberCount projects { id name taskCount } }
  }
}`;
const PAGE = 'query Page { tenant { products(first: 20) { nodes { id sku name priceCents } pageInfo { endCursor } } } }';

const quick = process.argv.includes('--quick');
const noisy = process.argv.includes('--noisy');
const subscriptions = process.argv.includes('--subscriptions');
const tracing = process.argv.includes('--tracing');
const arg = (name: string, fallback: number) => {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
};
const volume: Volume = quick
  ? { tenants: 5, products: 200, orders: 300, smallProducts: 20, smallOrders: 30 }
  : {
      tenants: arg('tenants', noisy || subscriptions ? 10 : 200),
      products: arg('products', 2_000),
      orders: arg('orders', 5_000),
      smallProducts: 40,
      smallOrders: 100,
    };
const connections = arg('connections', quick ? 10 : 20);
const seconds = arg('duration', quick ? 3 : 15);
const rounds = arg('rounds', quick ? 1 : 3);
/**
 * --baseline DIR: a checkout of the issue's code (`git worktree add DIR 6f1290d`, its dependencies
 * installed). Its subgraphs and gateway run beside ours on the same databases, and every round loads
 * them right after ours: both CPU figures come from the same minutes of the same machine.
 */
const baselineIndex = process.argv.indexOf('--baseline');
const baselineRoot = baselineIndex > 0 ? `${resolve(process.argv[baselineIndex + 1]!)}/` : undefined;
/** NATS with JetStream for `--subscriptions`. */
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const log = (line: string) => console.log(`[bench] ${line}`);

const children: Child[] = [];
const cleanups: (() => Promise<void>)[] = [];

async function main() {
  const started = Date.now();
  const adminUrl = process.env.PG_ADMIN_URL ?? (await embedded());
  // --events: the outbox relay and a durable consumer alone, no gateway (see events.ts).
  if (process.argv.includes('--events')) return eventsBench(adminUrl, arg('count', quick ? 500 : 5_000), log).then(() => 0);
  const suffix = randomBytes(3).toString('hex');
  const databases = {} as Record<Subgraph, { appUrl: string; adminUrl: string }>;
  for (const name of SUBGRAPHS) {
    const database = `bench_${name}_${suffix}`;
    const role = { name: `bench_${name}_${suffix}`, password: randomBytes(12).toString('hex') };
    await ensureDatabase(adminUrl, database, role);
    cleanups.push(() => dropDatabase(adminUrl, database));
    const appUrl = urlFor(adminUrl, database, role);
    const db = connect(appUrl, { max: 1 });
    await migrateToLatest(db, MIGRATIONS[name]).finally(() => db.destroy());
    databases[name] = { appUrl, adminUrl: withDatabaseName(adminUrl, database) };
  }
  log(`seeding ${volume.tenants} tenants`);
  await seedVolume(
    {
      tenant: databases.tenant.adminUrl,
      product: databases.product.adminUrl,
      order: databases.order.adminUrl,
      project: databases.project.adminUrl,
    },
    volume,
    log,
  );
  // --noisy: the attacker (the largest tenant) and its victim are both on the PRO plan, so the limits are the same for both.
  if (noisy) await setPlan(databases.tenant.adminUrl, tenantIds(volume).slice(0, 2), 'PRO');

  const issuer = await createIssuer();
  const jwks = await serveJwks(issuer);
  cleanups.push(jwks.close);
  const registryToken = randomBytes(16).toString('hex');
  const common = {
    AUTH_JWKS_URL: jwks.url,
    AUTH_ISSUER: issuer.issuer,
    AUTH_AUDIENCE: issuer.audience,
    REGISTRY_TOKEN: registryToken,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    APOLLO_TELEMETRY_DISABLED: 'true',
    // The throughput runs load a few ENTERPRISE tenants far past a plan's cost per second (the read mix:
    // ~60 dashboards a second each); --noisy measures the limits, with PRO's as they are.
    ...(noisy ? {} : { COST_RATE_ENTERPRISE: '10000000' }),
  };
  // --profile: V8 CPU profiles of the gateway and every subgraph, written to .data/profile/ when they stop.
  const profile = (name: string) =>
    process.argv.includes('--profile') ? ['--cpu-prof', `--cpu-prof-dir=${ROOT}.data/profile/${name}`] : [];
  /** The four subgraphs and the gateway of the checkout at `root` (ours by default), each in its own process, with `extra` in their environment. */
  const startServices = async (extra: Record<string, string> = {}, tag = '', root = ROOT) => {
    const profiled = (name: string) => (root === ROOT ? profile(name) : []);
    const ports = Object.fromEntries(await Promise.all(SUBGRAPHS.map(async (name) => [name, await freePort()]))) as Record<
      Subgraph,
      number
    >;
    const metricsPorts = Object.fromEntries(await Promise.all(SUBGRAPHS.map(async (name) => [name, await freePort()]))) as Record<
      Subgraph,
      number
    >;
    const registryUrl = { TENANT_REGISTRY_URL: `http://127.0.0.1:${ports.tenant}/internal/tenants` };
    const processes: Record<string, Child> = {};
    for (const name of SUBGRAPHS) {
      const child = runService(
        `${name}${tag}`,
        `${root}services/${name}`,
        'src/index.ts',
        {
          ...common,
          ...registryUrl,
          ...extra,
          DATABASE_URL: databases[name].appUrl,
          PORT: String(ports[name]),
          METRICS_PORT: String(metricsPorts[name]),
          PRODUCT_SUBGRAPH_URL: `http://127.0.0.1:${ports.product}/graphql`,
          // --tracing runs three sets of services on one PostgreSQL: within its 100 connections.
          DB_POOL_SIZE: tracing ? '6' : '10',
        },
        profiled(name),
      );
      children.push(child);
      processes[name] = child;
      await waitUntilHealthy(`http://127.0.0.1:${ports[name]}/health`, child);
    }
    const subgraphUrl = (name: Subgraph) => `http://127.0.0.1:${ports[name]}/graphql`;
    const overrides = Object.fromEntries(SUBGRAPHS.map((name) => [`SUBGRAPH_${name.toUpperCase()}_URL`, subgraphUrl(name)]));
    const gatewayPort = await freePort();
    const gateway = runService(
      `ours${tag}`,
      `${root}services/gateway`,
      'src/index.ts',
      {
        ...common,
        ...registryUrl,
        ...extra,
        ...overrides,
        PORT: String(gatewayPort),
        METRICS_PORT: String(await freePort()),
        GATEWAY_WORKERS: String(arg('workers', 1)),
        // The rounds measure the uncached path; the read mix runs a second gateway with the cache.
        ENTITY_CACHE: 'off',
        // --in-flight N: the gateway's CONCURRENCY_MAX_IN_FLIGHT (slots over every tenant), to try another than the default.
        ...(arg('in-flight', 0) > 0 ? { CONCURRENCY_MAX_IN_FLIGHT: String(arg('in-flight', 0)) } : {}),
        // --subscriptions: events on NATS; each socket's connect and subscribes count against the rate limit, raised for the setup.
        ...(subscriptions
          ? {
              NATS_URL,
              RATE_LIMIT_FREE_RPS: '1000',
              RATE_LIMIT_PRO_RPS: '1000',
              RATE_LIMIT_ENTERPRISE_RPS: '1000',
              SUBSCRIPTIONS_PER_TENANT_FREE: '10000',
              SUBSCRIPTIONS_PER_TENANT_PRO: '10000',
              SUBSCRIPTIONS_PER_TENANT_ENTERPRISE: '10000',
            }
          : {}),
      },
      profiled('gateway'),
    );
    children.push(gateway);
    await waitUntilHealthy(`http://127.0.0.1:${gatewayPort}/health`, gateway);
    return {
      ports,
      metricsPorts,
      processes,
      subgraphUrl,
      overrides,
      registryUrl,
      gateway,
      gatewayUrl: `http://127.0.0.1:${gatewayPort}/graphql`,
    };
  };
  const { metricsPorts, processes, subgraphUrl, overrides, registryUrl, gateway: ours, gatewayUrl: oursUrl } = await startServices();
  const [plainPort, capturePort] = [await freePort(), await freePort()];
  if (tracing) {
    const dashboardOf = (first: number) => JSON.stringify({ query: DASHBOARD, variables: { first } });
    return tracingCost({
      untraced: { gatewayUrl: oursUrl, gateway: ours, processes },
      startServices,
      issuer,
      tenants: tenantIds(volume),
      dashboard: dashboardOf(20),
      connections,
      seconds,
      rounds,
      log,
    });
  }
  if (subscriptions) {
    const result = await subscriptionBench({
      gatewayUrl: oursUrl,
      natsUrl: NATS_URL,
      tenants: tenantIds(volume),
      token: (tenant) => issuer.sign({ tenant, subject: `bench@${tenant}` }),
      gatewayPid: ours.process.pid!,
      subscriptions: arg('subscriptions-count', 1_000),
      rate: arg('rate', 100),
      seconds: arg('duration', quick ? 5 : 20),
      log,
    });
    console.log(`\n${result.text}`);
    await writeSection('## Subscriptions', result.text);
    return result.ok ? 0 : 1;
  }
  if (noisy) {
    const [attacker, victim] = tenantIds(volume) as [string, string];
    const dashboardOf = (first: number) => JSON.stringify({ query: DASHBOARD, variables: { first } });
    const result = await noisyNeighbour({
      gatewayUrl: oursUrl,
      issuer,
      attacker,
      victim,
      processes: { ...processes, gateway: ours },
      metricsUrls: Object.fromEntries(SUBGRAPHS.map((name) => [name, `http://127.0.0.1:${metricsPorts[name]}/metrics`])),
      dashboard: dashboardOf(20),
      largestDashboard: dashboardOf(100),
      seconds: arg('duration', 30),
      rate: arg('rate', 10),
      connections: arg('connections', 64),
      benchDir: `${ROOT}tools/bench`,
      log,
    });
    console.log(`\n${result.text}`);
    await writeSection('## Noisy neighbour', result.text);
    log('wrote the noisy-neighbour section of BENCHMARKS.md');
    return result.ok ? 0 : 1;
  }
  const supergraph = { SUPERGRAPH_PATH: `${ROOT}supergraph/supergraph.graphql` };
  const plain = runService('plain', `${ROOT}tools/bench`, 'src/plain-gateway.ts', {
    ...common,
    ...supergraph,
    PORT: String(plainPort),
    SUBGRAPH_URLS: JSON.stringify(Object.fromEntries(SUBGRAPHS.map((name) => [name, subgraphUrl(name)]))),
  });
  children.push(plain);

  // One virtual user per connection, each with its own token, spread over the tenants.
  const tenants = tenantIds(volume);
  const tokens = await Promise.all(
    Array.from({ length: connections }, (_, i) =>
      issuer.sign({ tenant: tenants[i % tenants.length]!, scopes: SCOPES, subject: `vu-${i}` }),
    ),
  );
  const auth = (token: string) => ({ authorization: `Bearer ${token}` });
  const dashboard = (first: number) => JSON.stringify({ query: DASHBOARD, variables: { first } });
  const plainUrl = `http://127.0.0.1:${plainPort}/graphql`;
  await waitForGraphQL(plainUrl, tokens[0]!);

  // The ceiling: what each subgraph is asked for one dashboard, captured from a real plan.
  const shares = await captureShares(capturePort, subgraphUrl, tokens, dashboard(20), common, supergraph);

  const sqlTotal = () =>
    Promise.all(SUBGRAPHS.map((name) => sqlCount(`http://127.0.0.1:${metricsPorts[name]}/metrics`))).then((counts) =>
      counts.reduce((a, b) => a + b, 0),
    );
  const sqlPerDashboard = async (first: number) => {
    const before = await sqlTotal();
    const response = await post(oursUrl, dashboard(first), tokens[0]!);
    if (response.includes('"errors"')) throw new Error(`dashboard failed: ${response.slice(0, 300)}`);
    return (await sqlTotal()) - before;
  };
  const sql5 = await sqlPerDashboard(5);
  const sql100 = await sqlPerDashboard(100);
  log(`SQL statements per dashboard: page of 5 → ${sql5}, page of 100 → ${sql100}`);

  // --soak <seconds>: only our gateway on the dashboard, its memory sampled every 15 s.
  const soakSeconds = arg('soak', 0);
  if (soakSeconds > 0)
    return soak(
      oursUrl,
      ours,
      tokens.map((token) => [{ body: dashboard(20), headers: auth(token) }]),
      soakSeconds,
    );

  /** Our gateway with its entity cache, on our subgraphs, and the read mix's users: one per connection, each its own tenant's. */
  const startReadMix = async () => {
    const cachedPort = await freePort();
    const cachedMetrics = await freePort();
    const cached = runService(
      'cached',
      `${ROOT}services/gateway`,
      'src/index.ts',
      {
        ...common,
        ...registryUrl,
        ...overrides,
        PORT: String(cachedPort),
        METRICS_PORT: String(cachedMetrics),
        ENTITY_CACHE: 'on',
      },
      profile('cached'),
    );
    children.push(cached);
    await waitUntilHealthy(`http://127.0.0.1:${cachedPort}/health`, cached);
    const mixUsers = await Promise.all(
      tenants
        .slice(0, Math.min(20, connections))
        .map(async (tenant, i) => ({ token: await issuer.sign({ tenant, scopes: SCOPES, subject: `mix-${i}` }) })),
    );
    return { cached, cachedUrl: `http://127.0.0.1:${cachedPort}/graphql`, cachedMetrics, mixUsers };
  };
  // --read-mix: the read mix alone, with each process's CPU per request and where the tail is.
  if (process.argv.includes('--read-mix')) {
    const { cached, cachedUrl, cachedMetrics, mixUsers } = await startReadMix();
    const of = { ...processes, gateway: cached };
    const postmaster = await postmasterOf(adminUrl);
    const cpu = async () => ({
      ...Object.fromEntries(
        await Promise.all(Object.entries(of).map(async ([name, child]) => [name, await cpuSecondsOf(child.process.pid!)])),
      ),
      postgres: await postgresCpuSeconds(postmaster),
      bench: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
    });
    const before = await cpu();
    const result = await readMix(cachedUrl, mixUsers, dashboard(20), seconds);
    const after = await cpu();
    const metrics = await (await fetch(`http://127.0.0.1:${cachedMetrics}/metrics`)).text();
    const text = `${readMixDetail(result, before, after)}\n${gatewayView(metrics)}`;
    console.log(`\n${text}`);
    await mkdir(`${ROOT}.data`, { recursive: true });
    await writeFile(`${ROOT}.data/read-mix.json`, JSON.stringify(result.samples));
    log('wrote .data/read-mix.json (every request: when it started, what it took, what it was)');
    return result.errors + result.staleReads > 0 ? 1 : 0;
  }

  // --baseline: the issue's code, on the same databases, answering the same dashboard.
  const baseline = baselineRoot ? await startServices({}, '·6f', baselineRoot) : undefined;
  if (baseline) {
    const response = await post(baseline.gatewayUrl, dashboard(20), tokens[0]!);
    if (!response.includes('"products"') || response.includes('"errors"'))
      throw new Error(`the baseline's dashboard failed: ${response.slice(0, 300)}`);
  }

  const mutationMix = await mutationSequences(oursUrl, tokens);
  const dashboardLoad = tokens.map((token) => [{ body: dashboard(20), headers: auth(token) }]);
  const results: Round[] = [];
  const memory: number[] = [(await memoryOf(ours.process.pid!)).rss];
  processes.gateway = ours;
  const postmaster = await postmasterOf(adminUrl);
  const cpu = async (of: Record<string, Child> = processes): Promise<Record<string, number>> => ({
    ...Object.fromEntries(
      await Promise.all(Object.entries(of).map(async ([name, child]) => [name, await cpuSecondsOf(child.process.pid!)])),
    ),
    postgres: await postgresCpuSeconds(postmaster),
  });
  /** CPU milliseconds per request of each process between two readings of `cpu`. */
  const perRequest = (before: Record<string, number>, after: Record<string, number>, requests: number) =>
    Object.fromEntries(Object.entries(after).map(([name, seconds]) => [name, ((seconds - before[name]!) * 1000) / Math.max(1, requests)]));
  let cpuPerRequest: Record<string, number> = {};
  let plainGatewayCpu = 0;
  const sideBySide: SideBySide = { ours: [], baseline: [] };
  if (baseline) baseline.processes.gateway = baseline.gateway;
  for (let round = 1; round <= rounds; round++) {
    const sqlBefore = await sqlTotal();
    const cpuBefore = await cpu();
    const oursResult = await load(oursUrl, dashboardLoad, connections, seconds);
    const cpuAfter = await cpu();
    const sqlPerRequest = ((await sqlTotal()) - sqlBefore) / Math.max(1, oursResult.requests);
    // Where the time goes: CPU milliseconds per dashboard request, per process.
    cpuPerRequest = perRequest(cpuBefore, cpuAfter, oursResult.requests);
    if (baseline) {
      const before = await cpu(baseline.processes);
      const result = await load(baseline.gatewayUrl, dashboardLoad, connections, seconds);
      sideBySide.ours.push(cpuPerRequest);
      sideBySide.baseline.push(perRequest(before, await cpu(baseline.processes), result.requests));
      log(
        `round ${round}, side by side: ours ${sum(cpuPerRequest).toFixed(2)} CPU ms per dashboard, 6f1290d ${sum(sideBySide.baseline.at(-1)!).toFixed(2)}`,
      );
    }
    memory.push((await memoryOf(ours.process.pid!)).rss);
    const plainBefore = await cpuSecondsOf(plain.process.pid!);
    const plainResult = await load(plainUrl, dashboardLoad, connections, seconds);
    plainGatewayCpu = (((await cpuSecondsOf(plain.process.pid!)) - plainBefore) * 1000) / Math.max(1, plainResult.requests);
    const ceilings: Record<string, LoadResult> = {};
    for (const name of SUBGRAPHS) {
      const sequences = shares[name];
      if (!sequences?.length) continue;
      const result = await load(subgraphUrl(name), sequences, connections, Math.max(2, Math.round(seconds / 3)));
      // A "request" here is one dashboard's worth of this subgraph's work.
      ceilings[name] = { ...result, requestsPerSecond: result.requestsPerSecond / sequences[0]!.length };
    }
    const [slowest, ceiling] = Object.entries(ceilings).sort((a, b) => a[1].requestsPerSecond - b[1].requestsPerSecond)[0]!;
    const mutations = await load(oursUrl, mutationMix, connections, Math.max(2, Math.round(seconds / 2)));
    results.push({ round, ours: oursResult, plain: plainResult, slowest, ceiling, ceilings, mutations, sqlPerRequest });
    log(
      `round ${round}: ours ${oursResult.requestsPerSecond.toFixed(0)} req/s (p99 ${oursResult.p99} ms), plain ${plainResult.requestsPerSecond.toFixed(0)}, ` +
        `ceiling (${slowest}) ${ceiling.requestsPerSecond.toFixed(0)}, mutations ${mutations.requestsPerSecond.toFixed(0)}`,
    );
  }
  const peak = (await memoryOf(ours.process.pid!)).peak;

  // The read mix: 95 % dashboards, 5 % writes, one tenant per connection, our gateway with its
  // entity cache beside plain @apollo/gateway; stale reads counted.
  const { cachedUrl, mixUsers } = await startReadMix();
  const mixCached = await readMix(cachedUrl, mixUsers, dashboard(20), seconds);
  const mixPlain = await readMix(plainUrl, mixUsers, dashboard(20), seconds);
  log(
    `read mix: ours with the entity cache ${mixCached.requestsPerSecond.toFixed(0)} req/s (p99 ${mixCached.p99} ms; writes ${mixCached.writeP99}, the read after one ${mixCached.afterWriteP99}; ${mixCached.staleReads} stale), ` +
      `plain ${mixPlain.requestsPerSecond.toFixed(0)} req/s (p99 ${mixPlain.p99} ms)`,
  );

  const largest = await load(
    oursUrl,
    [[{ body: JSON.stringify({ query: PAGE }), headers: auth(tokens[0]!) }]],
    connections,
    Math.max(2, Math.round(seconds / 3)),
  );
  const smallTokens = tokens.filter((_, i) => i % tenants.length !== 0);
  const smallest = await load(
    oursUrl,
    smallTokens.map((token) => [{ body: JSON.stringify({ query: PAGE }), headers: auth(token) }]),
    connections,
    Math.max(2, Math.round(seconds / 3)),
  );

  const summary = {
    volume,
    connections,
    seconds,
    rounds: results,
    sql5,
    sql100,
    memory,
    peak,
    largest,
    smallest,
    quick,
    cpuPerRequest,
    plainGatewayCpu,
    elapsed: (Date.now() - started) / 1000,
  };
  const report = writeReport(summary);
  const mix = readMixSection(summary, mixCached, mixPlain, sideBySide);
  console.log(report.text);
  console.log(mix);
  if (!quick) {
    const command = `npx pnpm@10 bench ${process.argv.slice(2).join(' ')}`.trim();
    const analysis = await readFile(`${ROOT}tools/bench/ANALYSIS.md`, 'utf8').catch(() => '');
    const header = [
      '# Benchmarks',
      '',
      `Made by \`${command}\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node.js ${process.version}.`,
      'Every process (PostgreSQL, four subgraphs, both gateways, the load generator) shares these cores.',
    ];
    const kept = await keptSections();
    await writeFile(`${ROOT}BENCHMARKS.md`, `${header.join('\n')}\n${report.markdown}\n${mix}\n${analysis}${kept}`);
    log('wrote BENCHMARKS.md');
  }
  const errors =
    results.reduce((sum, round) => sum + round.ours.errors + round.mutations.errors, 0) + mixCached.errors + mixCached.staleReads;
  if (errors > 0 || sql5 !== sql100) {
    console.error(`[bench] FAILED: ${errors} error(s); SQL per dashboard ${sql5} (page of 5) vs ${sql100} (page of 100)`);
    return 1;
  }
  return 0;
}

/**
 * Memory across a long run: after a minute of warm-up (JIT, caches, buffers), the gateway's
 * resident memory should stay within 10 % of where it settled.
 */
async function soak(url: string, gateway: Child, load_: LoadRequest[][], seconds: number) {
  const samples: { at: number; rss: number }[] = [];
  const started = Date.now();
  const sampler = setInterval(async () => {
    samples.push({ at: Math.round((Date.now() - started) / 1000), rss: (await memoryOf(gateway.process.pid!)).rss });
  }, 15_000);
  const result = await load(url, load_, connections, seconds);
  clearInterval(sampler);
  // Resident memory saws up and down with each major GC, so single samples mislead: compare the
  // mean of the first half after warm-up with the mean of the second half.
  const settled = samples.filter((sample) => sample.at >= 60);
  const half = Math.floor(settled.length / 2);
  const mean = (part: typeof samples) => part.reduce((sum, sample) => sum + sample.rss, 0) / Math.max(1, part.length);
  const early = mean(settled.slice(0, half));
  const late = mean(settled.slice(half));
  const drift = early ? ((late - early) / early) * 100 : 0;
  const lines = [
    '',
    `Soak: our gateway alone on the dashboard, ${connections} connections, ${seconds} s: ${result.requestsPerSecond.toFixed(0)} req/s, p99 ${result.p99} ms, ${result.errors} errors.`,
    '',
    '| second | gateway RSS (MiB) |',
    '| ---: | ---: |',
    ...samples.map((sample) => `| ${sample.at} | ${sample.rss.toFixed(0)} |`),
    '',
    `After the first minute, mean RSS of the first half ${early.toFixed(0)} MiB, of the second half ${late.toFixed(0)} MiB (${drift.toFixed(1)} %): ${Math.abs(drift) <= 10 ? 'flat' : 'NOT flat'} (goal: within 10 %).`,
    '',
  ];
  console.log(lines.join('\n'));
  await writeFile(`${ROOT}.data/soak.md`, lines.join('\n'));
  log('wrote .data/soak.md');
  return result.errors === 0 ? 0 : 1;
}

async function setPlan(tenantAdminUrl: string, tenants: string[], plan: string) {
  const db = connect(tenantAdminUrl, { max: 1 });
  await sql`update tenant set plan = ${plan} where id = any(${tenants}::text[])`.execute(db).finally(() => db.destroy());
}

async function embedded() {
  log('starting embedded PostgreSQL');
  const server = await startEmbeddedPostgres({ persistent: false });
  cleanups.push(server.stop);
  return server.url;
}

async function post(url: string, body: string, token: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body,
  });
  return response.text();
}

async function waitForGraphQL(url: string, token: string) {
  for (let attempt = 0; attempt < 150; attempt++) {
    try {
      if ((await post(url, '{"query":"{ __typename }"}', token)).includes('"data"')) return;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} did not answer`);
}

/**
 * Runs the dashboard once per virtual user through a throwaway plain gateway whose subgraph
 * URLs are recording hops, and returns, per subgraph, each user's sequence of fetches.
 */
async function captureShares(
  port: number,
  subgraphUrl: (name: Subgraph) => string,
  tokens: string[],
  body: string,
  common: Record<string, string>,
  supergraph: Record<string, string>,
): Promise<Record<Subgraph, LoadRequest[][]>> {
  const hops = Object.fromEntries(
    await Promise.all(SUBGRAPHS.map(async (name) => [name, await recordingHop(subgraphUrl(name).replace('/graphql', ''))])),
  ) as Record<Subgraph, Awaited<ReturnType<typeof recordingHop>>>;
  const capture = runService('capture', `${ROOT}tools/bench`, 'src/plain-gateway.ts', {
    ...common,
    ...supergraph,
    PORT: String(port),
    SUBGRAPH_URLS: JSON.stringify(Object.fromEntries(SUBGRAPHS.map((name) => [name, `${hops[name].url}/graphql`]))),
  });
  const url = `http://127.0.0.1:${port}/graphql`;
  await waitForGraphQL(url, tokens[0]!);
  const shares = Object.fromEntries(SUBGRAPHS.map((name) => [name, [] as LoadRequest[][]])) as Record<Subgraph, LoadRequest[][]>;
  for (const token of tokens) {
    for (const hop of Object.values(hops)) hop.seen.length = 0;
    await post(url, body, token);
    for (const name of SUBGRAPHS) {
      shares[name].push(
        hops[name].seen.map((seen) => ({ body: seen.body, headers: { authorization: String(seen.headers.authorization) } })),
      );
    }
  }
  await stopChild(capture);
  await Promise.all(Object.values(hops).map((hop) => hop.close()));
  return shares;
}

/** Per virtual user: place an order for one of its tenant's products, then create a task. */
async function mutationSequences(url: string, tokens: string[]): Promise<LoadRequest[][]> {
  const sequences: LoadRequest[][] = [];
  for (const token of tokens) {
    const ids = JSON.parse(
      await post(
        url,
        JSON.stringify({ query: '{ tenant { products(first: 1) { nodes { id } } projects(first: 1) { nodes { id } } } }' }),
        token,
      ),
    ).data.tenant;
    const headers = { authorization: `Bearer ${token}` };
    sequences.push([
      {
        headers,
        body: JSON.stringify({
          query: 'mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { id number totalCents } }',
          variables: { i: { lines: [{ productId: ids.products.nodes[0].id, quantity: 1 }] } },
        }),
      },
      {
        headers,
        body: JSON.stringify({
          query: 'mutation($i: CreateTaskInput!) { createTask(input: $i) { id status } }',
          variables: { i: { projectId: ids.projects.nodes[0].id, title: 'Benchmark task' } },
        }),
      },
    ]);
  }
  return sequences;
}

let code = 1;
try {
  code = await main();
} catch (error) {
  console.error(`[bench] failed: ${error instanceof Error ? error.stack : String(error)}`);
} finally {
  for (const child of children.reverse()) await stopChild(child);
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
}
process.exit(code);
