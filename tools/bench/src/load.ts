import { readdir, readFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, request } from 'node:http';
import { connect } from '@tenantgraph/database';
import autocannon from 'autocannon';
import { sql } from 'kysely';

export type LoadRequest = { body: string; headers: Record<string, string> };

export type LoadResult = {
  requestsPerSecond: number;
  p50: number;
  p90: number;
  p99: number;
  /** Transport errors, non-2xx answers, timeouts and answers carrying GraphQL errors. */
  errors: number;
  requests: number;
};

/**
 * Runs autocannon against `url` for `seconds`; connection `i` sends `sequences[i % n]` in a
 * loop (a distinct virtual user per connection). A 200 answer with `"errors"` counts as an error.
 */
export async function load(url: string, sequences: LoadRequest[][], connections: number, seconds: number): Promise<LoadResult> {
  let next = 0;
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    method: 'POST',
    setupClient(client) {
      const sequence = sequences[next++ % sequences.length]!;
      client.setRequests(
        sequence.map((item) => ({ method: 'POST', body: item.body, headers: { 'content-type': 'application/json', ...item.headers } })),
      );
    },
    verifyBody: (body) => !String(body).includes('"errors"'),
  });
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx + result.timeouts + result.mismatches,
    requests: result.requests.total,
  };
}

/** Resident and peak memory of a process, in MiB, from /proc. */
export async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

/** CPU seconds (user + system) used so far by a process. */
export async function cpuSecondsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / 100;
}

/**
 * CPU seconds used so far by one PostgreSQL server: its postmaster (`postmaster`, a pid) and the
 * processes it started; without one, by every PostgreSQL process on the machine. Counting only
 * the bench's own server keeps out whatever else uses the machine's PostgreSQL meanwhile.
 */
export async function postgresCpuSeconds(postmaster?: number): Promise<number> {
  let total = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (postmaster === undefined) {
      const comm = await readFile(`/proc/${entry}/comm`, 'utf8').catch(() => '');
      if (comm.trim() === 'postgres') total += await cpuSecondsOf(pid);
    } else if (pid === postmaster || (await parentOf(pid)) === postmaster) total += await cpuSecondsOf(pid);
  }
  return total;
}

/** The postmaster's pid of the PostgreSQL server at `adminUrl` (a superuser's), when it runs on this machine. */
export async function postmasterOf(adminUrl: string): Promise<number | undefined> {
  const db = connect<Record<string, never>>(adminUrl, { max: 1 });
  try {
    const { rows } = await sql<{ dir: string }>`select current_setting('data_directory') as dir`.execute(db);
    const pid = Number((await readFile(`${rows[0]?.dir}/postmaster.pid`, 'utf8')).split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  } finally {
    await db.destroy();
  }
}

async function parentOf(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat ? Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) : undefined;
}

/**
 * The number of SQL statements in a service's `/metrics` (`db_query_duration_seconds_count`), counting only statements sent for
 * GraphQL requests (the registry's periodic refresh is labelled `tenant="none"`).
 */
export async function sqlCount(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('db_query_duration_seconds_count{') && !line.includes('tenant="none"'))
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** An HTTP hop that forwards to `target` and remembers each request (the subgraph fetches of a plan). */
export async function recordingHop(target: string) {
  const seen: { headers: IncomingHttpHeaders; body: string }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ headers: req.headers, body });
      const upstream = request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
