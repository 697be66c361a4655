import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Kysely, type Migration, type MigrationProvider, type MigrationResult, Migrator } from 'kysely';

/**
 * Migrations are TypeScript files named by ISO timestamp. They are imported from here, not from
 * inside Kysely, so that whatever runs this code (tsx, vitest) also loads them.
 */
class TypeScriptFileProvider implements MigrationProvider {
  constructor(private readonly folder: string) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const files = (await readdir(this.folder)).filter((file) => /\.(ts|js)$/.test(file) && !file.endsWith('.d.ts')).sort();
    const migrations: Record<string, Migration> = {};
    for (const file of files) {
      migrations[file.replace(/\.(ts|js)$/, '')] = await import(pathToFileURL(join(this.folder, file)).href);
    }
    return migrations;
  }
}

function migratorFor(db: Kysely<any>, folder: string) {
  return new Migrator({ db, provider: new TypeScriptFileProvider(folder) });
}

/**
 * Brings a database to the latest migration in `folder`. Each migration runs in its own
 * transaction; on failure the error names the migration and nothing of it is kept.
 */
export async function migrateToLatest(db: Kysely<any>, folder: string): Promise<MigrationResult[]> {
  const { error, results = [] } = await migratorFor(db, folder).migrateToLatest();
  if (error) {
    const failed = results.find((result) => result.status === 'Error');
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`migration ${failed?.migrationName ?? '(unknown)'} failed: ${reason}`, { cause: error });
  }
  return results;
}

export type MigrationState = { applied: number; pending: string[]; latest: string | undefined };

/** What has run and what is pending in a database. */
export async function migrationState(db: Kysely<any>, folder: string): Promise<MigrationState> {
  const migrations = await migratorFor(db, folder).getMigrations();
  const applied = migrations.filter((migration) => migration.executedAt);
  return {
    applied: applied.length,
    pending: migrations.filter((migration) => !migration.executedAt).map((migration) => migration.name),
    latest: applied.at(-1)?.name,
  };
}
