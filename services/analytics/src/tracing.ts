// The first import of index.ts: the OpenTelemetry SDK is registered (when an OTLP endpoint is
// set) before any other module of the service runs. Nothing else belongs here.
import { startTracing } from '@tenantgraph/telemetry';

startTracing('analytics');
