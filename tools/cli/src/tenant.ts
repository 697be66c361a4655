// `pnpm tenant <verb>`: provisioning and lifecycle of tenants (see tools/cli/README.md).
import { readOptions } from './args.ts';
import { openPlatform } from './platform.ts';
import { createTenant, deleteTenant, listTenants, MigrateError, migrateAll, moveTenant, provisionServices } from './tenants.ts';

const USAGE = `Usage: npx pnpm@10 tenant <verb> [options]

  create --id <id> --name <name> --plan FREE|PRO|ENTERPRISE [--dedicated]
                          register a tenant; --dedicated gives it one database per subgraph
  list                    tenants, their placement and the migration state of their databases
  migrate                 bring every database (shared and dedicated) to the latest migration
  move --id <id> --to dedicated|shared [--max-stale <seconds>]
                          move a tenant's rows to databases of its own, or back
  delete --id <id> [--max-stale <seconds>]
                          remove a tenant's rows (or drop its databases) and deregister it

  --max-stale: the services' REGISTRY_MAX_STALE (default 60); move and delete wait that long
  after fencing the tenant, so that every service has seen the fence or stopped serving.

Uses PG_ADMIN_URL when set, otherwise the embedded PostgreSQL of \`pnpm start\` (borrowed while
it runs, started for the command otherwise).`;

const log = (line: string) => console.log(line);
const [verb, ...argv] = process.argv.slice(2);

if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
  console.log(USAGE);
  process.exit(verb === undefined ? 2 : 0);
}

/** `--max-stale <seconds>` as lifecycle options (the services' REGISTRY_MAX_STALE; 60 s when not given). */
function lifecycleOptions(maxStale: string | undefined) {
  if (maxStale === undefined) return {};
  const seconds = Number(maxStale);
  if (!Number.isFinite(seconds) || seconds <= 0) usageError('--max-stale must be a positive number of seconds');
  return { maxStaleMs: seconds * 1000 };
}

/** The work of one verb, given a platform; options are read (and usage errors end the process) first. */
function command(): (platform: Awaited<ReturnType<typeof openPlatform>>) => Promise<void> {
  switch (verb) {
    case 'create': {
      const { values } = readOptions(
        argv,
        {
          id: { type: 'string', required: true },
          name: { type: 'string', required: true },
          plan: { type: 'string', required: true },
          dedicated: { type: 'boolean' },
        },
        USAGE,
      );
      return async (platform) => {
        // On a server `pnpm start` never ran on, the registry and shared databases come first.
        await provisionServices(platform, (line) => line.endsWith('up to date') || log(line));
        await createTenant(platform, { id: values.id!, name: values.name!, plan: values.plan!, dedicated: Boolean(values.dedicated) }, log);
      };
    }
    case 'list':
      readOptions(argv, {}, USAGE);
      return async (platform) => printTable(await listTenants(platform));
    case 'migrate':
      readOptions(argv, {}, USAGE);
      return async (platform) => {
        const report = await migrateAll(platform, log);
        log(`migrated ${report.length} database(s)`);
      };
    case 'move': {
      const { values } = readOptions(
        argv,
        { id: { type: 'string', required: true }, to: { type: 'string', required: true }, 'max-stale': { type: 'string' } },
        USAGE,
      );
      if (values.to !== 'dedicated' && values.to !== 'shared') usageError('--to must be dedicated or shared');
      const options = lifecycleOptions(values['max-stale']);
      return (platform) => moveTenant(platform, values.id!, values.to as 'shared' | 'dedicated', log, options);
    }
    case 'delete': {
      const { values } = readOptions(argv, { id: { type: 'string', required: true }, 'max-stale': { type: 'string' } }, USAGE);
      const options = lifecycleOptions(values['max-stale']);
      return (platform) => deleteTenant(platform, values.id!, log, options);
    }
    default:
      return usageError(`unknown verb "${verb}"`);
  }
}

function usageError(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

function printTable(tenants: Awaited<ReturnType<typeof listTenants>>) {
  if (tenants.length === 0) return log('no tenants registered');
  const rows = [['ID', 'NAME', 'PLAN', 'PLACEMENT', 'STATUS', 'DATABASES (migrations)']];
  for (const tenant of tenants) {
    const databases = tenant.databases
      .map(
        (db) =>
          `${db.database} ${db.pending === undefined ? 'unreachable' : db.pending === 0 ? `applied ${db.applied}` : `${db.pending} pending`}`,
      )
      .join(', ');
    rows.push([tenant.id, tenant.name, tenant.plan, tenant.placement, tenant.status, databases]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  for (const row of rows) log(row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  '));
}

const run = command();
const platform = await openPlatform(log);
let code = 0;
try {
  await run(platform);
} catch (error) {
  code = 1;
  if (error instanceof MigrateError) {
    console.error(`tenant ${verb} failed at ${error.database}: ${(error.cause as Error)?.message ?? error.message}`);
    console.error(`${error.done.length} database(s) before it were migrated; the ones after it were not touched`);
  } else if ((error as { code?: string }).code === '3D000') {
    console.error(`tenant ${verb} failed: no tenant registry on this server yet (run \`tenant create\` or \`pnpm start\` first)`);
  } else {
    console.error(`tenant ${verb} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
} finally {
  await platform.close();
}
process.exit(code);
