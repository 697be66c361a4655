import { readFileSync } from 'node:fs';
import { createSubgraphServer, type DataSubgraphDeps, DateTime, mergeResolvers } from '@tenantgraph/server-kit';
import { parse } from 'graphql';
import { createContext } from './context.ts';
import type { Database } from './database.ts';
import { memberResolvers } from './organization/member.resolvers.ts';
import { organizationResolvers } from './organization/organization.resolvers.ts';
import { projectResolvers } from './project/project.resolvers.ts';
import { taskResolvers } from './task/task.resolvers.ts';

export { migrationsFolder, SERVICE } from './migrations.ts';

export const typeDefs = parse(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'));

export type ProjectServerDeps = DataSubgraphDeps<Database>;

/** The project subgraph: each tenant's organizations, their members, projects and tasks. */
export function createProjectServer(deps: ProjectServerDeps) {
  return createSubgraphServer({
    name: 'project',
    typeDefs,
    resolvers: mergeResolvers({ DateTime }, organizationResolvers, memberResolvers, projectResolvers, taskResolvers),
    verifier: deps.verifier,
    logger: deps.logger,
    metrics: deps.metrics,
    createContext: (base) => createContext(base, deps.databases),
    ready: deps.ready,
    limits: deps.limits,
    onStop: () => deps.databases.destroy(),
    admission: deps.admission,
  });
}
