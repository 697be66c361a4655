import { fileURLToPath } from 'node:url';

/** This service's name: its role, its shared database (`order_db`) and its logs. */
export const SERVICE = 'order';

/** The folder of this service's Kysely migrations, for the start script, the CLI and tests. */
export const migrationsFolder = fileURLToPath(new URL('../migrations', import.meta.url));
