import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import {
  type Attributes,
  type Context,
  context,
  createContextKey,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type TextMapPropagator,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import type { suppressTracing, W3CTraceContextPropagator } from '@opentelemetry/core';
import type { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import type { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import type { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import type { NodeSDK } from '@opentelemetry/sdk-node';
import type { BatchSpanProcessor, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { type TracingEnvironment, tracingEnvironment } from './environment.ts';

// The SDK is loaded only when tracing is on: with no endpoint set, no module of it is even read.
const require = createRequire(import.meta.url);

/** What every span of one request carries: set once known (the tenant after the token is verified). */
export type TraceScope = { requestId: string; tenantId?: string | undefined };

const tracer = trace.getTracer('@tenantgraph/telemetry');
let sdk: NodeSDK | undefined;

/**
 * Where a request's trace scope sits in OpenTelemetry's context (kept by the SDK in an
 * AsyncLocalStorage of its own): only when tracing, so that without it no store is enabled and no
 * hook runs on any promise.
 */
const SCOPE = createContextKey('tenantgraph.trace-scope');

/** The trace a request belongs to when it was not sampled (see `inServerSpan`). */
const UNSAMPLED = createContextKey('tenantgraph.unsampled-trace');
/** A context with tracing suppressed and no span in it (set by `startTracing`). */
let suppressedRoot: Context | undefined;

/** The exporter of each `OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL`, loaded only when chosen. */
const EXPORTERS: Record<TracingEnvironment['OTEL_EXPORTER_OTLP_PROTOCOL'], () => { OTLPTraceExporter: typeof OTLPTraceExporter }> = {
  grpc: () => require('@opentelemetry/exporter-trace-otlp-grpc'),
  'http/protobuf': () => require('@opentelemetry/exporter-trace-otlp-proto'),
  'http/json': () => require('@opentelemetry/exporter-trace-otlp-http'),
};

/**
 * Starts the OpenTelemetry SDK of this process when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, and does nothing otherwise. Call it first, from
 * the service's `tracing.ts`, the first import of its `index.ts`. Traces incoming GraphQL requests
 * (`inServerSpan`) and outgoing HTTP (W3C `traceparent` both ways), every SQL statement (`pg`) and
 * Redis command (`ioredis`);
 * `edge` (the gateway) continues a client's trace only with `TRACING_TRUST_CLIENT=true`.
 * @example startTracing('product') // services/product/src/tracing.ts
 */
export function startTracing(service: string, { edge = false } = {}): boolean {
  const { env, problem } = tracingEnvironment();
  if (problem) warn('tracing is off: invalid OpenTelemetry settings', { service, problem });
  const endpoint = env?.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env?.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!env || env.OTEL_SDK_DISABLED || !endpoint || sdk) return sdk !== undefined;
  sdk = createSdk(service, env, edge);
  sdk.start();
  suppressedRoot = (require('@opentelemetry/core') as { suppressTracing: typeof suppressTracing }).suppressTracing(ROOT_CONTEXT);
  // The instrumentations patch a module when it is required after this point. Services are ES
  // modules whose imports were loaded before this runs: requiring them here patches the shared
  // prototypes (pg's Client, ioredis, http.Server) that every later import of them uses.
  require('node:http');
  require('pg');
  require('ioredis');
  return true;
}

function createSdk(service: string, env: TracingEnvironment, edge: boolean): NodeSDK {
  const { NodeSDK } = require('@opentelemetry/sdk-node') as { NodeSDK: typeof import('@opentelemetry/sdk-node').NodeSDK };
  const { BatchSpanProcessor: Batch } = require('@opentelemetry/sdk-trace-base') as { BatchSpanProcessor: typeof BatchSpanProcessor };
  const { W3CTraceContextPropagator: W3C } = require('@opentelemetry/core') as {
    W3CTraceContextPropagator: typeof W3CTraceContextPropagator;
  };
  const { HttpInstrumentation: Http } = require('@opentelemetry/instrumentation-http') as {
    HttpInstrumentation: typeof HttpInstrumentation;
  };
  const { PgInstrumentation: Pg } = require('@opentelemetry/instrumentation-pg') as { PgInstrumentation: typeof PgInstrumentation };
  const { IORedisInstrumentation: Redis } = require('@opentelemetry/instrumentation-ioredis') as {
    IORedisInstrumentation: typeof IORedisInstrumentation;
  };
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL;
  // Each exporter reads its endpoint, headers and timeout from the standard variables itself.
  const { OTLPTraceExporter: Exporter } = EXPORTERS[protocol]();
  const propagator = new W3C();
  return new NodeSDK({
    ...(env.OTEL_SERVICE_NAME ? {} : { serviceName: service }),
    spanProcessors: [scopeAttributes, new Batch(new Exporter())],
    // Traces only: metrics are Prometheus' (one way of counting), and logs are the JSON lines on stderr.
    metricReaders: [],
    logRecordProcessors: [],
    // Trace context only: no baggage, so nothing a client sends rides along to the subgraphs.
    textMapPropagator: edge && !env.TRACING_TRUST_CLIENT ? injectOnly(propagator) : propagator,
    instrumentations: [
      // Outgoing requests only (the gateway's subgraph fetches): incoming GraphQL requests get
      // their server span from `inServerSpan`, and nothing else is traced.
      new Http({
        disableIncomingRequestInstrumentation: true,
        // Background calls (registry polls, JWKS) start no trace of their own.
        requireParentforOutgoingSpans: true,
      }),
      // Statements are reported without their values, and with no span for taking a pooled connection.
      new Pg({
        requireParentSpan: true,
        enhancedDatabaseReporting: false,
        ignoreConnectSpans: true,
        // Reads are bound statements; the message that opens a unit of writes holds its tenant as a
        // literal (`begin; select set_config(...)`): every statement is recorded with its literals as `?`.
        requestHook: (span, { query }) => span.setAttribute('db.query.text', withoutLiterals(query.text)),
      }),
      new Redis({ requireParentSpan: true }),
    ],
  });
}

/** SQL with its string and number literals replaced by `?` (identifiers, keywords and `$n` placeholders kept). */
function withoutLiterals(text: string): string {
  return text.replace(/(?<!\w)E?'(?:[^']|'')*'/g, '?').replace(/(?<![\w$."])\d+(?:\.\d+)?\b/g, '?');
}

/** A propagator that sends trace context on but ignores what callers send: the gateway's, unless clients are trusted. */
function injectOnly(propagator: TextMapPropagator): TextMapPropagator {
  return {
    inject: (ctx, carrier, setter) => propagator.inject(ctx, carrier, setter),
    extract: (ctx) => ctx,
    fields: () => propagator.fields(),
  };
}

/** Stamps each span started inside a request with its tenant and request id, whoever creates it (pg, Apollo, us). */
const scopeAttributes: SpanProcessor = {
  onStart(span, parent: Context) {
    const scope = parent.getValue(SCOPE) as TraceScope | undefined;
    if (!scope) return;
    span.setAttribute('request.id', scope.requestId);
    if (scope.tenantId !== undefined) span.setAttribute('tenant.id', scope.tenantId);
  },
  onEnd() {},
  forceFlush: async () => {},
  shutdown: async () => {},
};

/** Whether `startTracing` registered an SDK in this process. */
export function tracingEnabled(): boolean {
  return sdk !== undefined;
}

/** Sends the spans still buffered and stops the SDK; part of every service's shutdown. */
export async function stopTracing(): Promise<void> {
  const stopping = sdk;
  sdk = undefined;
  await stopping?.shutdown().catch(() => {});
}

/**
 * Runs `run` with `scope` in its trace context: when tracing, every span started inside carries
 * `request.id` and, once `scope.tenantId` is set, `tenant.id`; the span already active (the HTTP
 * server span) gets them from `setSpanAttributes` (server-kit's `noteTenant`). Without tracing,
 * `run` is just called.
 */
export function withTraceScope<T>(scope: TraceScope, run: () => T): T {
  if (!sdk) return run();
  trace.getActiveSpan()?.setAttribute('request.id', scope.requestId);
  return context.with(context.active().setValue(SCOPE, scope), run);
}

/**
 * Runs `handle` for one incoming GraphQL request in its HTTP server span (`POST /graphql`), the
 * child of the caller's `traceparent` — a client's only at the gateway with `TRACING_TRUST_CLIENT`.
 * Only GraphQL requests are traced: not health probes, not the metrics listener.
 *
 * A request whose trace is not sampled — the gateway's sampler said no, or the caller's
 * `traceparent` says so — runs with tracing suppressed: no span inside would record anything, so
 * none is started (Apollo's plan and fetch spans, the HTTP client's, SQL), each of which would cost
 * an id, a sampling decision and a context switch; its subgraph calls still carry the trace,
 * unsampled (`injectTraceContext`), so the subgraphs do not trace them either. (The HTTP
 * instrumentation's incoming side, which this replaces, would wrap every listener of every request
 * in a context, sampled or not.)
 */
export function inServerSpan<T>(req: IncomingMessage, res: ServerResponse, handle: () => T): T {
  const quiet = suppressedRoot;
  if (!sdk || !quiet) return handle();
  const parent = propagation.extract(ROOT_CONTEXT, req.headers);
  const upstream = trace.getSpanContext(parent);
  // Suppressed, and with no span in the context: the pg instrumentation then skips each statement at once.
  const unsampled = (of: SpanContext) => context.with(quiet.setValue(UNSAMPLED, of), handle);
  if (upstream && trace.isSpanContextValid(upstream) && !(upstream.traceFlags & TraceFlags.SAMPLED)) return unsampled(upstream);
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  // The path only: a GET's query string carries the operation's variables.
  const span = tracer.startSpan(
    `${req.method} ${path}`,
    { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method ?? 'GET', 'url.path': path, 'url.scheme': 'http' } },
    parent,
  );
  if (!span.isRecording()) return unsampled(span.spanContext());
  res.once('close', () => {
    span.setAttribute('http.response.status_code', res.statusCode);
    if (res.statusCode >= 500 || !res.writableFinished) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });
  return context.with(trace.setSpan(parent, span), handle);
}

/** Sets attributes on the active span (e.g. the tenant, once verified, on the HTTP server span). */
export function setSpanAttributes(attributes: Attributes): void {
  if (sdk) trace.getActiveSpan()?.setAttributes(attributes);
}

/** The trace id of the active span, for log lines; undefined when not tracing. */
export function activeTraceId(): string | undefined {
  if (!sdk) return undefined;
  const spanContext = trace.getActiveSpan()?.spanContext();
  return spanContext && trace.isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
}

/**
 * Runs `run` in a new span (a child of the active one). A failure marks the span as an error
 * with its `code` only: error messages may quote input, and spans never carry input values.
 * Without tracing, or outside a sampled trace, `run` is called at once with no span, and its
 * answer returned as it is (no promise added: an entity lookup is wrapped, and runs once per entity).
 * @example await withSpan('nats publish', { 'messaging.destination.name': subject }, () => js.publish(subject, data))
 */
export function withSpan<T>(name: string, attributes: Attributes, run: (span: Span | undefined) => Promise<T> | T): Promise<T> | T {
  // Not in a sampled trace (or in none): a span would record nothing, and cost a context switch per call.
  if (!sdk || !trace.getActiveSpan()?.isRecording()) return run(undefined);
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await run(span);
    } catch (error) {
      const code = (error as { extensions?: { code?: unknown }; code?: unknown }).extensions?.code ?? (error as { code?: unknown }).code;
      span.setStatus({ code: SpanStatusCode.ERROR, message: typeof code === 'string' ? code : 'error' });
      throw error;
    } finally {
      span.end();
    }
  });
}

function warn(message: string, fields: Record<string, unknown>) {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'warn', message, ...fields })}\n`);
}

/** Writes the active span's W3C trace context (`traceparent`) into outgoing request headers; an unsampled trace's with its flags off. */
export function injectTraceContext(headers: Record<string, string>): void {
  if (!sdk) return;
  const unsampled = context.active().getValue(UNSAMPLED) as SpanContext | undefined;
  if (unsampled) headers.traceparent = `00-${unsampled.traceId}-${unsampled.spanId}-00`;
  else propagation.inject(context.active(), headers);
}
