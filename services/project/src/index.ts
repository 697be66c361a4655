import { dataSubgraphDeps, stopOnSignals } from '@tenantgraph/server-kit';
import type { Database } from './database.ts';
import { environment } from './environment.ts';
import { SERVICE, migrationsFolder } from './migrations.ts';
import { createProjectServer } from './server.ts';

const deps = dataSubgraphDeps<Database>(SERVICE, environment, migrationsFolder);
const server = createProjectServer(deps);
await server.start(environment.PORT, environment.HOST);
stopOnSignals(server.stop, deps.logger, { stopWithParent: environment.STOP_WITH_PARENT });
