import { loadEnvironment, port, subgraphEnvironment } from '@tenantgraph/server-kit';

/** Everything this service reads from `process.env`, validated once at start. */
export const environment = loadEnvironment(subgraphEnvironment.extend({ PORT: port(4005), METRICS_PORT: port(9405) }));
