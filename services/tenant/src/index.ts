import './tracing.ts';
import { registrySubgraphDeps, runService } from '@tenantgraph/server-kit';
import type { Database } from './database.ts';
import { environment } from './environment.ts';
import { migrationsFolder, SERVICE } from './migrations.ts';
import { createTenantServer } from './server.ts';

const deps = registrySubgraphDeps<Database>(SERVICE, environment, migrationsFolder);
const server = createTenantServer({ ...deps, registryToken: environment.REGISTRY_TOKEN });
await runService({ server, metrics: deps.metricsServer, env: environment, logger: deps.logger });
