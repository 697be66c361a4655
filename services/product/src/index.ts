import './tracing.ts';
import { outboxRelayTask } from '@tenantgraph/events';
import { dataSubgraphDeps, runService } from '@tenantgraph/server-kit';
import type { Database } from './database.ts';
import { environment } from './environment.ts';
import { migrationsFolder, SERVICE } from './migrations.ts';
import { createProductServer } from './server.ts';

const deps = dataSubgraphDeps<Database>(SERVICE, environment, migrationsFolder);
const server = createProductServer(deps);
const background = [outboxRelayTask(SERVICE, environment, deps)];
await runService({ server, metrics: deps.metricsServer, env: environment, logger: deps.logger, background });
