import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { migrationsFolder as analyticsMigrations } from '@tenantgraph/analytics/migrations';
import { dedicatedDatabaseName } from '@tenantgraph/database';
import { startEmbeddedPostgres, urlFor } from '@tenantgraph/devkit';
import { migrationsFolder as orderMigrations } from '@tenantgraph/order/migrations';
import { migrationsFolder as productMigrations } from '@tenantgraph/product/migrations';
import { migrationsFolder as projectMigrations } from '@tenantgraph/project/migrations';
import { migrationsFolder as tenantMigrations } from '@tenantgraph/tenant/migrations';

import { DATA_DIR, ROOT } from './paths.ts';

export type Service = { name: string; port: number; migrationsFolder: string; dir: string };

/** The five subgraphs, in start order: the tenant registry first, the others route by it. */
export const SERVICES: Service[] = [
  { name: 'tenant', port: 4001, migrationsFolder: tenantMigrations, dir: join(ROOT, 'services/tenant') },
  { name: 'product', port: 4002, migrationsFolder: productMigrations, dir: join(ROOT, 'services/product') },
  { name: 'order', port: 4003, migrationsFolder: orderMigrations, dir: join(ROOT, 'services/order') },
  { name: 'project', port: 4004, migrationsFolder: projectMigrations, dir: join(ROOT, 'services/project') },
  { name: 'analytics', port: 4005, migrationsFolder: analyticsMigrations, dir: join(ROOT, 'services/analytics') },
];

/** The subgraphs whose tenants' rows can live in dedicated databases. */
export const DATA_SERVICES = SERVICES.filter((service) => service.name !== 'tenant');

/** The embedded server's fixed local port, so URLs stay the same across runs. */
export const EMBEDDED_PG_PORT = 54329;

export type Secrets = { registryToken: string; passwords: Record<string, string> };

export type Platform = {
  /** A superuser URL of the PostgreSQL server holding every database. */
  adminUrl: string;
  secrets: Secrets;
  /** Put before every database and role name (tests keep theirs apart with it); empty in production. */
  prefix?: string;
};

export const sharedDatabase = (service: string, prefix = '') => `${prefix}${service}_db`;
export const roleOf = (service: string, prefix = '') => ({ name: `${prefix}${service}_svc` });

/** The login role and password of a service. */
export function serviceRole(platform: Platform, service: string) {
  return { name: roleOf(service, platform.prefix).name, password: platform.secrets.passwords[service] ?? '' };
}

/** A service's URL for one of its databases (its shared one by default), as its own login role. */
export function serviceDatabaseUrl(platform: Platform, service: string, database = sharedDatabase(service, platform.prefix)) {
  return urlFor(platform.adminUrl, database, serviceRole(platform, service));
}

/** The database holding a tenant's rows of a service: its shared one, or `<shared>__<tenant>`. */
export function tenantDatabase(platform: Platform, service: string, tenantId: string, placement: 'shared' | 'dedicated') {
  const shared = sharedDatabase(service, platform.prefix);
  return placement === 'dedicated' ? dedicatedDatabaseName(shared, tenantId) : shared;
}

/** Passwords of the service roles and the registry token: made once, kept in `.data/secrets.json`. */
export async function loadSecrets(): Promise<Secrets> {
  const file = join(DATA_DIR, 'secrets.json');
  const secret = () => randomBytes(18).toString('base64url');
  const kept: Secrets | undefined = existsSync(file) ? JSON.parse(await readFile(file, 'utf8')) : undefined;
  // The events database's role (`events`) and a service added since the file was written get theirs now.
  const roles = [...SERVICES.map((service) => service.name), 'events'];
  if (kept && roles.every((role) => kept.passwords[role])) return kept;
  const secrets: Secrets = {
    registryToken: kept?.registryToken ?? secret(),
    passwords: Object.fromEntries(roles.map((role) => [role, kept?.passwords[role] ?? secret()])),
  };
  await mkdir(DATA_DIR, { recursive: true });
  await writeFile(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

/**
 * The PostgreSQL server: `PG_ADMIN_URL` when set, otherwise the embedded server with its data
 * in `.data/postgres` (started here unless `pnpm start` already runs it).
 */
export async function openPlatform(log: (line: string) => void, { owner = false } = {}): Promise<Platform & { close(): Promise<void> }> {
  const secrets = await loadSecrets();
  if (process.env.PG_ADMIN_URL) {
    return { adminUrl: process.env.PG_ADMIN_URL, secrets, close: async () => {} };
  }
  const dir = join(DATA_DIR, 'postgres');
  const adminUrl = `postgres://postgres:postgres@127.0.0.1:${EMBEDDED_PG_PORT}/postgres`;
  if (await isListening(EMBEDDED_PG_PORT)) {
    // Running already: `pnpm start` is up (the CLI borrows it), or a start was killed and
    // left it behind (the new start adopts it and stops it at the end).
    return { adminUrl, secrets, close: owner ? () => stopLeftover(dir) : async () => {} };
  }
  log(`starting embedded PostgreSQL (data in .data/postgres, port ${EMBEDDED_PG_PORT})`);
  const server = await startEmbeddedPostgres({ dir, port: EMBEDDED_PG_PORT, persistent: true });
  return { adminUrl: server.url, secrets, close: server.stop };
}

/** Fast shutdown of the embedded server through its postmaster pid. */
async function stopLeftover(dir: string) {
  const pid = Number((await readFile(join(dir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  if (!pid) return;
  process.kill(pid, 'SIGINT');
  for (let waited = 0; waited < 10_000 && (await isListening(EMBEDDED_PG_PORT)); waited += 200) {
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
