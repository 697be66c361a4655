import { z } from 'zod';

/**
 * What decides whether this process traces, from the standard OpenTelemetry variables (the SDK
 * reads the rest itself: `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_TRACES_SAMPLER`, `OTEL_BSP_*` ...).
 * No endpoint, no tracing: no SDK is registered and the API stays the no-op one.
 */
const schema = z.object({
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url().optional(),
  OTEL_EXPORTER_OTLP_PROTOCOL: z.enum(['grpc', 'http/protobuf', 'http/json']).default('http/protobuf'),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: z.enum(['grpc', 'http/protobuf', 'http/json']).optional(),
  OTEL_SDK_DISABLED: z.stringbool().default(false),
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
  /**
   * The gateway only: continue a client's `traceparent` (true) or start a trace of its own (false,
   * the default), so that no client decides what is sampled or joins its trace to ours unasked.
   */
  TRACING_TRUST_CLIENT: z.stringbool().default(false),
});

export type TracingEnvironment = z.infer<typeof schema>;

/** Parses the variables; an invalid one turns tracing off with the reason rather than stopping the service. */
export function tracingEnvironment(env: NodeJS.ProcessEnv = process.env): { env?: TracingEnvironment; problem?: string } {
  const result = schema.safeParse(env);
  if (result.success) return { env: result.data };
  return { problem: result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ') };
}
