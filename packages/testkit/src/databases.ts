import { randomBytes } from 'node:crypto';
import { dedicatedDatabaseName } from '@tenantgraph/database';
import { dropDatabase, ensureDatabase, migrateAsOwner, urlFor } from '@tenantgraph/devkit';
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
  /** The role owning the databases and their tables (migrations run as it). */
  owner: string;
  /** The same database as `url`, as the superuser: row-level security does not apply. */
  asAdmin(url: string): string;
  /** Creates and migrates one more tenant's dedicated database (a tenant onboarded while tests run). */
  addDedicated(tenantId: string): Promise<string>;
  drop(): Promise<void>;
};

/**
 * Fresh databases for one test file: a shared database and one per dedicated tenant, owned by
 * a NOLOGIN owner role that runs the service's real migrations, and a login role (the one the
 * service connects as) that is neither owner, superuser nor BYPASSRLS and may only read and
 * write rows.
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
  const owner = `${role.name}_owner`;
  for (const name of names) {
    await ensureDatabase(adminUrl, name, role, { owner });
    await migrateAsOwner(adminUrl, name, { owner, app: role.name }, options.migrationsFolder);
  }
  return {
    sharedUrl: urlFor(adminUrl, shared, role),
    dedicatedUrl: (tenantId) => urlFor(adminUrl, dedicatedDatabaseName(shared, tenantId), role),
    adminUrl,
    role: role.name,
    owner,
    asAdmin(url) {
      const admin = new URL(adminUrl);
      const target = new URL(url);
      target.username = admin.username;
      target.password = admin.password;
      return target.toString();
    },
    async addDedicated(tenantId) {
      const name = dedicatedDatabaseName(shared, tenantId);
      if (!names.includes(name)) names.push(name);
      await ensureDatabase(adminUrl, name, role, { owner });
      await migrateAsOwner(adminUrl, name, { owner, app: role.name }, options.migrationsFolder);
      return urlFor(adminUrl, name, role);
    },
    async drop() {
      for (const name of names) await dropDatabase(adminUrl, name);
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`drop role if exists "${role.name}"`).catch(() => {});
      await client.query(`drop role if exists "${owner}"`).catch(() => {});
      await client.end();
    },
  };
}

export type OutboxEntry = { tenant_id: string; type: string; entity_id: string; payload: Record<string, unknown>; sent_at: Date | null };

/**
 * The domain events a service wrote to the outbox of one of its databases (read as the superuser,
 * every tenant's), oldest first; `type` narrows them.
 * @example expect(await outboxEvents(databases.asAdmin(databases.sharedUrl))).toHaveLength(1)
 */
export async function outboxEvents(adminUrl: string, type?: string): Promise<OutboxEntry[]> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<OutboxEntry>(
      `select tenant_id, type, entity_id, payload, sent_at from event_outbox where ($1::text is null or type = $1) order by seq`,
      [type ?? null],
    );
    return rows;
  } finally {
    await client.end();
  }
}
