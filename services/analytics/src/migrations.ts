import { fileURLToPath } from 'node:url';

/** This service's name: its role, its shared database (`analytics_db`) and its logs. */
export const SERVICE = 'analytics';

/** The folder of this service's Kysely migrations, for the start script, the CLI and tests. */
export const migrationsFolder = fileURLToPath(new URL('../migrations', import.meta.url));
