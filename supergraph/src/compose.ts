import { relative } from 'node:path';
import { composeFromConfig, type Diagnostic, formatDiagnostic, writeComposition } from './compose-lib.ts';
import { CONFIG_FILE, SUPERGRAPH_DIR } from './paths.ts';
import { loadSupergraphConfig } from './supergraph-config.ts';

async function main(): Promise<number> {
  const config = await loadSupergraphConfig(CONFIG_FILE);
  const outcome = await composeFromConfig(config);
  printHints(outcome.hints);
  if (!outcome.ok) {
    console.error(`✖ Composition failed with ${outcome.errors.length} error(s); nothing was written.`);
    for (const error of outcome.errors) console.error(formatDiagnostic(error).join('\n'));
    return 1;
  }
  const files = await writeComposition(SUPERGRAPH_DIR, outcome);
  const names = config.subgraphs.map((subgraph) => subgraph.name).join(', ');
  console.log(`✔ Composed ${config.subgraphs.length} subgraphs (${names})`);
  for (const file of files) console.log(`  wrote ${relative(process.cwd(), file)}`);
  return 0;
}

function printHints(hints: Diagnostic[]): void {
  if (hints.length === 0) return;
  console.log(`⚠ ${hints.length} composition hint(s):`);
  for (const hint of hints) console.log(formatDiagnostic(hint).join('\n'));
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`✖ ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
