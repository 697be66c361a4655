import { setSpanAttributes, type TraceScope, withTraceScope } from '@tenantgraph/telemetry';

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

/**
 * Runs one request; when tracing, with its record in its async context, so that every span
 * started inside carries the request id and the tenant. The record itself travels explicitly (the
 * request context's `record`): without tracing no AsyncLocalStorage is enabled at all. On Node 20
 * one puts hooks on every promise of the process; leaving it out cut each process's CPU per
 * dashboard by about a fifth (tools/bench/ANALYSIS.md).
 */
export function inRequest<T>(record: RequestRecord, run: () => T): T {
  return withTraceScope(record, run);
}

/**
 * Names the verified tenant of a request: its metrics, access line and spans carry it from here
 * on. Called by `authenticate`, as soon as the token is verified.
 */
export function noteTenant(record: RequestRecord, tenantId: string): void {
  record.tenantId = tenantId;
  setSpanAttributes({ 'tenant.id': tenantId });
}
