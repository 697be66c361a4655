// `pnpm traces [--port 4318]`: a local OTLP/HTTP receiver (JSON protocol) that prints each trace as
// an indented tree, for a look at traces without Jaeger or Tempo. Start the services with
// OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 OTEL_EXPORTER_OTLP_PROTOCOL=http/json.
import { createServer } from 'node:http';

type Span = {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  service: string;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, unknown>;
};

const index = process.argv.indexOf('--port');
const port = index > 0 ? Number(process.argv[index + 1]) : 4318;
/** Spans by trace, printed once no span of the trace has come for a second. */
const traces = new Map<string, { spans: Span[]; lastAt: number }>();

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    if (req.method !== 'POST' || req.url !== '/v1/traces') return res.writeHead(404).end();
    if (!String(req.headers['content-type']).includes('json')) {
      res.writeHead(415, { 'content-type': 'text/plain' }).end('send OTEL_EXPORTER_OTLP_PROTOCOL=http/json');
      return;
    }
    try {
      collect(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    } catch {
      res.writeHead(400).end();
    }
  });
});

function collect(body: { resourceSpans?: any[] }) {
  for (const resourceSpans of body.resourceSpans ?? []) {
    const service = String(attributesOf(resourceSpans.resource?.attributes)['service.name'] ?? '?');
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      for (const span of scopeSpans.spans ?? []) {
        const trace = traces.get(span.traceId) ?? { spans: [], lastAt: 0 };
        trace.spans.push({
          traceId: span.traceId,
          spanId: span.spanId,
          parentSpanId: span.parentSpanId ?? '',
          name: span.name,
          service,
          startNs: BigInt(span.startTimeUnixNano),
          endNs: BigInt(span.endTimeUnixNano),
          attributes: attributesOf(span.attributes),
        });
        trace.lastAt = Date.now();
        traces.set(span.traceId, trace);
      }
    }
  }
}

function attributesOf(list: { key: string; value: Record<string, unknown> }[] = []): Record<string, unknown> {
  return Object.fromEntries(list.map(({ key, value }) => [key, Object.values(value)[0]]));
}

/** One line per span, children under their parent in start order: service, name, duration, what it did. */
function render(spans: Span[]): string {
  const ids = new Set(spans.map((span) => span.spanId));
  const children = new Map<string, Span[]>();
  for (const span of [...spans].sort((a, b) => (a.startNs < b.startNs ? -1 : 1))) {
    const parent = ids.has(span.parentSpanId) ? span.parentSpanId : '';
    children.set(parent, [...(children.get(parent) ?? []), span]);
  }
  const root = children.get('')?.[0];
  const lines = [
    `trace ${spans[0]!.traceId}  tenant=${root?.attributes['tenant.id'] ?? '-'} request=${root?.attributes['request.id'] ?? '-'}`,
  ];
  const walk = (parent: string, depth: number) => {
    for (const span of children.get(parent) ?? []) {
      const ms = (Number(span.endNs - span.startNs) / 1e6).toFixed(1).padStart(7);
      const sql = span.attributes['db.query.text'] ?? span.attributes['db.statement'];
      // A read is sent behind its tenant setting (`select set_config(…); select …`): the statement is the last part.
      const detail = span.attributes['graphql.operation.name'] ?? (sql === undefined ? '' : String(sql).split('; ').at(-1));
      const label = `${'  '.repeat(depth)}${span.name}`;
      lines.push(`  ${span.service.padEnd(8)} ${ms} ms  ${label.padEnd(44)} ${String(detail).replace(/\s+/g, ' ').slice(0, 90)}`);
      walk(span.spanId, depth + 1);
    }
  };
  walk('', 0);
  return lines.join('\n');
}

setInterval(() => {
  for (const [id, trace] of traces) {
    if (Date.now() - trace.lastAt < 1_000) continue;
    traces.delete(id);
    console.log(`${render(trace.spans)}\n`);
  }
}, 250);

server.listen(port, '127.0.0.1', () => console.log(`[traces ] OTLP/HTTP (JSON) receiver on http://127.0.0.1:${port}/v1/traces`));
process.on('SIGINT', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
