import { registrySubgraphDeps, stopOnSignals } from '@tenantgraph/server-kit';
import type { Database } from './database.ts';
import { environment } from './environment.ts';
import { SERVICE, migrationsFolder } from './migrations.ts';
import { createTenantServer } from './server.ts';

const deps = registrySubgraphDeps<Database>(SERVICE, environment, migrationsFolder);
const server = createTenantServer({ ...deps, registryToken: environment.REGISTRY_TOKEN });
await server.start(environment.PORT, environment.HOST);
stopOnSignals(server.stop, deps.logger, { stopWithParent: environment.STOP_WITH_PARENT });
