import './tracing.ts';
import { connectEventTransport, createEventMetrics, type EventTransport, type Subscription } from '@tenantgraph/events';
import { dataSubgraphDeps, runService } from '@tenantgraph/server-kit';
import type { Database } from './database.ts';
import { environment } from './environment.ts';
import { migrationsFolder, SERVICE } from './migrations.ts';
import { createAnalyticsServer } from './server.ts';
import { startAnalyticsSync } from './usage/usage.consumer.ts';

const deps = dataSubgraphDeps<Database>(SERVICE, environment, migrationsFolder);
const server = createAnalyticsServer(deps);

let transport: EventTransport | undefined;
let consumer: Subscription | undefined;
const analyticsSync = {
  async start() {
    transport = await connectEventTransport({
      natsUrl: environment.NATS_URL,
      eventsDatabaseUrl: environment.EVENTS_DATABASE_URL,
      name: SERVICE,
    });
    if (!transport) return deps.logger.warn('no NATS_URL or EVENTS_DATABASE_URL: no events to count, usage stays at zero');
    const metrics = createEventMetrics(deps.metrics.registry);
    consumer = await startAnalyticsSync({ transport, databases: deps.databases, logger: deps.logger, metrics });
    deps.logger.info('analytics_sync consuming', { transport: transport.kind });
  },
  async stop() {
    await consumer?.close();
    await transport?.close();
  },
};
await runService({ server, metrics: deps.metricsServer, env: environment, logger: deps.logger, background: [analyticsSync] });
