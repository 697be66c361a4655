// The noisy tenant of `pnpm bench --noisy`, in a process of its own so that its traffic does not
// slow the measuring client: CONNECTIONS loops send BODIES (in turn) to URL for DURATION_S
// seconds, each waiting out a 429's Retry-After (as fast as the limits allow), and write the
// answers counted by code to OUT.
import { writeFile } from 'node:fs/promises';

const { URL: url, TOKEN: token, BODIES: bodies, OUT: out } = process.env as Record<string, string>;
const connections = Number(process.env.CONNECTIONS ?? 64);
const durationMs = Number(process.env.DURATION_S ?? 30) * 1000;
const requests = JSON.parse(bodies!) as string[];
const counts: Record<string, number> = {};
const count = (code: string) => {
  counts[code] = (counts[code] ?? 0) + 1;
};

/** `ok`, the first error's code, or the HTTP status / transport error when there is none. */
async function send(body: string): Promise<{ code: string; retryAfterMs: number }> {
  try {
    const response = await fetch(url!, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body,
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    let code = `HTTP ${response.status}`;
    try {
      const parsed = JSON.parse(text) as { errors?: { extensions?: { code?: string } }[] };
      code = parsed.errors?.[0]?.extensions?.code ?? (response.ok ? 'ok' : code);
    } catch {
      // not JSON: keep the status
    }
    return { code, retryAfterMs: response.status === 429 ? Number(response.headers.get('retry-after') ?? 1) * 1000 : 0 };
  } catch (error) {
    return { code: (error as Error).name === 'TimeoutError' ? 'client timeout' : 'transport error', retryAfterMs: 0 };
  }
}

const until = Date.now() + durationMs;
await Promise.all(
  Array.from({ length: connections }, async (_, connection) => {
    for (let i = connection; Date.now() < until; i++) {
      const { code, retryAfterMs } = await send(requests[i % requests.length]!);
      count(code);
      if (retryAfterMs > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(retryAfterMs, until - Date.now())));
    }
  }),
);
await writeFile(out!, JSON.stringify(counts));
