import { readFileSync } from 'node:fs';
import type { TokenVerifier } from '@tenantgraph/auth';
import type { Logger } from '@tenantgraph/core';
import type { DatabaseRouter } from '@tenantgraph/database';
import { DateTime, type Metrics, createSubgraphServer } from '@tenantgraph/server-kit';
import { parse } from 'graphql';
import { createContext } from './context.ts';
import type { Database } from './database.ts';
import { memberResolvers } from './organization/member.resolvers.ts';
import { organizationResolvers } from './organization/organization.resolvers.ts';
import { projectResolvers } from './project/project.resolvers.ts';
import { taskResolvers } from './task/task.resolvers.ts';

export { migrationsFolder, SERVICE } from './migrations.ts';

export const typeDefs = parse(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'));

export type ProjectServerDeps = {
  databases: DatabaseRouter<Database>;
  verifier: TokenVerifier;
  logger: Logger;
  metrics: Metrics;
  /** Readiness: throws while the shared database is unreachable or behind on migrations. */
  ready(): Promise<void>;
};

/** The project subgraph: each tenant's organizations, their members, projects and tasks. */
export function createProjectServer(deps: ProjectServerDeps) {
  return createSubgraphServer({
    name: 'project',
    typeDefs,
    resolvers: {
      DateTime,
      // Tenant and Mutation are spread across entity folders; their fields are merged here.
      Tenant: { ...organizationResolvers.Tenant, ...projectResolvers.Tenant },
      Organization: organizationResolvers.Organization,
      Project: projectResolvers.Project,
      Mutation: {
        ...organizationResolvers.Mutation,
        ...memberResolvers.Mutation,
        ...projectResolvers.Mutation,
        ...taskResolvers.Mutation,
      },
    },
    verifier: deps.verifier,
    logger: deps.logger,
    metrics: deps.metrics,
    createContext: (base) => createContext(base, deps.databases),
    ready: deps.ready,
    onStop: () => deps.databases.destroy(),
  });
}
