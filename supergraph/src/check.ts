import { type CheckOptions, loadCheckInput, parseCheckArgs } from './check-inputs.ts';
import { checkSupergraph } from './check-lib.ts';
import { renderReport } from './check-report.ts';
import { ACCEPTED_FILE, CONFIG_FILE, SUPERGRAPH_DIR } from './paths.ts';
import { loadSupergraphConfig } from './supergraph-config.ts';

const USAGE = 'usage: supergraph:check [--base <git-ref>] [--subgraph <name> --schema <file>] [--json]';

async function main(argv: string[]): Promise<number> {
  let options: CheckOptions;
  try {
    options = parseCheckArgs(argv);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return 2;
  }
  // pnpm runs scripts from the package folder; INIT_CWD keeps `--schema` relative to where the user typed it.
  const cwd = process.env.INIT_CWD ?? process.cwd();
  const paths = { supergraphDir: SUPERGRAPH_DIR, configFile: CONFIG_FILE, acceptedFile: ACCEPTED_FILE, cwd };
  const input = await loadCheckInput(paths, options);
  const report = await checkSupergraph(input);
  if (options.json) {
    console.log(JSON.stringify({ ...report, proposal: options.proposal ?? null }, null, 2));
  } else {
    const config = await loadSupergraphConfig(CONFIG_FILE);
    const subgraphs = config.subgraphs.map((subgraph) => subgraph.name);
    console.log(renderReport(report, { subgraphs, ...(options.proposal ? { proposal: options.proposal } : {}) }));
  }
  return report.ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`✖ ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
