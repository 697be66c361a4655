// The tenant lifecycle on this machine's platform: the rules are the tenant room's
// (`@tenantgraph/tenant/lifecycle`); this file says where the databases are and how the operator
// makes, migrates and drops them (devkit's provisioning, as each service's owner role).
import { connect, withDatabaseName } from '@tenantgraph/database';
import { dropDatabase, ensureDatabase, migrateAsOwner } from '@tenantgraph/devkit';
import * as lifecycle from '@tenantgraph/tenant/lifecycle';
import pg from 'pg';
import { type Platform, SERVICES, type Service, serviceDatabaseUrl, serviceRole, sharedDatabase, tenantDatabase } from './platform.ts';

export { MigrateError, type NewTenant } from '@tenantgraph/tenant/lifecycle';

type Log = (line: string) => void;

/** The NOLOGIN role owning a service's databases and tables: `product_svc` → `product_owner`. */
const ownerRole = (platform: Platform, service: string) => serviceRole(platform, service).name.replace(/_svc$/, '_owner');

/**
 * Migrates one database of a service as its owner role, then grants the service's login role
 * the rows and nothing else (it is not the owner, so it cannot alter tables or their policies).
 */
async function migrateDatabase(platform: Platform, service: Pick<Service, 'name' | 'migrationsFolder'>, database: string) {
  const app = serviceRole(platform, service.name).name;
  const results = await migrateAsOwner(
    platform.adminUrl,
    database,
    { owner: ownerRole(platform, service.name), app },
    service.migrationsFolder,
  );
  return results.map((result) => result.migrationName);
}

const serviceNamed = (name: string) => {
  const service = SERVICES.find((candidate) => candidate.name === name);
  if (!service) throw new Error(`no service "${name}"`);
  return service;
};

/** The platform as the tenant room's lifecycle sees it. */
function tenantPlatform(platform: Platform): lifecycle.TenantPlatform {
  return {
    services: SERVICES,
    async withRegistry(work) {
      // As the superuser: the registry is the operator's, not a tenant's.
      const db = connect<lifecycle.RegistryDatabase>(withDatabaseName(platform.adminUrl, sharedDatabase('tenant', platform.prefix)), {
        max: 1,
      });
      try {
        return await work(db);
      } finally {
        await db.destroy();
      }
    },
    sharedDatabase: (service) => sharedDatabase(service, platform.prefix),
    tenantDatabase: (service, tenantId, placement) => tenantDatabase(platform, service, tenantId, placement),
    // No statement timeout: an operator's copy of a large tenant may take long.
    connect: (service, database) => connect(serviceDatabaseUrl(platform, service, database), { max: 1, statementTimeoutMs: 0 }),
    ensureDatabase: (service, database) =>
      ensureDatabase(platform.adminUrl, database, serviceRole(platform, service), { owner: ownerRole(platform, service) }),
    migrate: (service, database) => migrateDatabase(platform, serviceNamed(service), database),
    databaseExists: (database) => databaseExists(platform, database),
    dropDatabase: (database) => dropDatabase(platform.adminUrl, database),
  };
}

async function databaseExists(platform: Platform, database: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: platform.adminUrl });
  await client.connect();
  try {
    return ((await client.query('select 1 from pg_database where datname = $1', [database])).rowCount ?? 0) > 0;
  } finally {
    await client.end();
  }
}

/** Creates (if missing) each service's role and shared database, and migrates it. */
export async function provisionServices(platform: Platform, log: Log) {
  for (const service of SERVICES) {
    const database = sharedDatabase(service.name, platform.prefix);
    await ensureDatabase(platform.adminUrl, database, serviceRole(platform, service.name), { owner: ownerRole(platform, service.name) });
    const applied = await migrateDatabase(platform, service, database);
    log(`${database}: ${applied.length ? `applied ${applied.join(', ')}` : 'up to date'}`);
  }
}

/** `tenant create`: see the lifecycle's `createTenant`. */
export const createTenant = (platform: Platform, tenant: lifecycle.NewTenant, log: Log) =>
  lifecycle.createTenant(tenantPlatform(platform), tenant, log);

/** `tenant list`: see the lifecycle's `listTenants`. */
export const listTenants = (platform: Platform) => lifecycle.listTenants(tenantPlatform(platform));

/** `tenant migrate`: the shared databases made if missing (a server `pnpm start` never ran on), then the lifecycle's `migrateAll`. */
export async function migrateAll(platform: Platform, log: Log) {
  for (const service of SERVICES)
    await ensureDatabase(platform.adminUrl, sharedDatabase(service.name, platform.prefix), serviceRole(platform, service.name));
  return lifecycle.migrateAll(tenantPlatform(platform), log);
}

/** `tenant move`: see the lifecycle's `moveTenant`. */
export const moveTenant = (platform: Platform, id: string, to: 'shared' | 'dedicated', log: Log, options?: lifecycle.LifecycleOptions) =>
  lifecycle.moveTenant(tenantPlatform(platform), id, to, log, options);

/** `tenant delete`: see the lifecycle's `deleteTenant`. */
export const deleteTenant = (platform: Platform, id: string, log: Log, options?: lifecycle.LifecycleOptions) =>
  lifecycle.deleteTenant(tenantPlatform(platform), id, log, options);
