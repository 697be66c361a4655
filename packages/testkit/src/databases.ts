import { randomBytes } from 'node:crypto';
import { connect, dedicatedDatabaseName, dropDatabase, ensureDatabase, migrateToLatest, urlFor } from '@tenantgraph/database';
import pg from 'pg';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the run's PostgreSQL, from the global setup. */
    pgAdminUrl: string;
  }
}

export type ServiceDatabases = {
  /** The shared database, as the service's own (non-superuser) login role. */
  sharedUrl: string;
  /** The URL of a tenant's dedicated database. */
  dedicatedUrl(tenantId: string): string;
  /** A superuser URL of the same server (for catalog checks). */
  adminUrl: string;
  /** The service's login role. */
  role: string;
  /** The same database as `url`, as the superuser: row-level security does not apply. */
  asAdmin(url: string): string;
  drop(): Promise<void>;
};

/**
 * Fresh databases for one test file, as `pnpm start` makes them: a login role that is neither
 * superuser nor BYPASSRLS owns a shared database and one database per dedicated tenant, each
 * migrated with the service's real migrations.
 */
export async function createServiceDatabases(options: {
  service: string;
  migrationsFolder: string;
  dedicatedTenants?: string[];
}): Promise<ServiceDatabases> {
  const adminUrl = inject('pgAdminUrl');
  const suffix = randomBytes(4).toString('hex');
  const role = { name: `t_${options.service}_${suffix}`, password: randomBytes(12).toString('hex') };
  const shared = `t_${options.service}_${suffix}`;
  const names = [shared, ...(options.dedicatedTenants ?? []).map((tenant) => dedicatedDatabaseName(shared, tenant))];
  for (const name of names) {
    await ensureDatabase(adminUrl, name, role);
    const db = connect(urlFor(adminUrl, name, role), { max: 1 });
    try {
      await migrateToLatest(db, options.migrationsFolder);
    } finally {
      await db.destroy();
    }
  }
  return {
    sharedUrl: urlFor(adminUrl, shared, role),
    dedicatedUrl: (tenantId) => urlFor(adminUrl, dedicatedDatabaseName(shared, tenantId), role),
    adminUrl,
    role: role.name,
    asAdmin(url) {
      const admin = new URL(adminUrl);
      const target = new URL(url);
      target.username = admin.username;
      target.password = admin.password;
      return target.toString();
    },
    async drop() {
      for (const name of names) await dropDatabase(adminUrl, name);
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`drop role if exists "${role.name}"`).catch(() => {});
      await client.end();
    },
  };
}
