import { currentTraceScope, setSpanAttributes, type TraceScope, withTraceScope } from '@tenantgraph/telemetry';

/**
 * What is known of one GraphQL request as it goes: filled in by the HTTP layer (id, tenant, status)
 * and by the metrics plugin (operation, outcome), then read once by the access log and the metrics.
 */
export type RequestRecord = TraceScope & {
  /** `performance.now()` when the request arrived. */
  start: number;
  operationName?: string | undefined;
  operationType?: string | undefined;
  /** The error code of the answer (the first error's), none when it succeeded. */
  code?: string | undefined;
  traceId?: string | undefined;
};

/** The request being served by the calling code, if any. */
export function currentRequest(): RequestRecord | undefined {
  return currentTraceScope<RequestRecord>();
}

/** Runs one request with its record in scope, for the metrics, the access log and every span started inside. */
export function inRequest<T>(record: RequestRecord, run: () => T): T {
  return withTraceScope(record, run);
}

/**
 * Names the verified tenant of the current request: its metrics, access line and spans carry it
 * from here on. Called by `authenticate`, as soon as the token is verified.
 */
export function noteTenant(tenantId: string): void {
  const record = currentRequest();
  if (record) record.tenantId = tenantId;
  setSpanAttributes({ 'tenant.id': tenantId });
}
