import { ensureDatabase, migrateAsOwner, urlFor } from '@tenantgraph/devkit';
import { eventLogMigrationsFolder } from '@tenantgraph/events';
import type { Platform } from './platform.ts';

/** The events database of the PostgreSQL transport (used when `NATS_URL` is unset). */
export const eventsDatabase = (prefix = '') => `${prefix}events_db`;
const eventsRole = (platform: Platform) => ({
  name: `${platform.prefix ?? ''}events_svc`,
  password: platform.secrets.passwords.events ?? '',
});

/** Creates (if missing) and migrates `events_db`, owned by `events_owner`, written by the login role `events_svc`. */
export async function provisionEvents(platform: Platform, log: (line: string) => void) {
  const database = eventsDatabase(platform.prefix);
  const role = eventsRole(platform);
  const owner = role.name.replace(/_svc$/, '_owner');
  await ensureDatabase(platform.adminUrl, database, role, { owner });
  const results = await migrateAsOwner(platform.adminUrl, database, { owner, app: role.name }, eventLogMigrationsFolder);
  log(`${database}: ${results.length ? `applied ${results.map((result) => result.migrationName).join(', ')}` : 'up to date'}`);
}

/** `EVENTS_DATABASE_URL` as every service uses it: the events database, as `events_svc`. */
export function eventsDatabaseUrl(platform: Platform): string {
  return urlFor(platform.adminUrl, eventsDatabase(platform.prefix), eventsRole(platform));
}
