import { promises as fs } from 'node:fs';
import path from 'node:path';
import { FileMigrationProvider, type Kysely, type MigrationResult, Migrator } from 'kysely';

function migratorFor(db: Kysely<any>, folder: string) {
  return new Migrator({ db, provider: new FileMigrationProvider({ fs, path, migrationFolder: folder }) });
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
