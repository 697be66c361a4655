import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type AcceptedBreakingChange, type CheckInput, parseAcceptedBreakingChanges } from './check-lib.ts';
import { API_SCHEMA_FILE, type Diagnostic, readSubgraphSources, SUPERGRAPH_FILE } from './compose-lib.ts';
import { loadSupergraphConfig } from './supergraph-config.ts';

export interface CheckOptions {
  base?: string;
  proposal?: { subgraph: string; schemaFile: string };
  json: boolean;
}

/** Parses `check.ts` arguments; throws with a usage line on anything unexpected. */
export function parseCheckArgs(argv: string[]): CheckOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      base: { type: 'string' },
      subgraph: { type: 'string' },
      schema: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if ((values.subgraph === undefined) !== (values.schema === undefined)) {
    throw new Error('--subgraph and --schema go together: --subgraph <name> --schema <file>');
  }
  return {
    json: values.json ?? false,
    ...(values.base === undefined ? {} : { base: values.base }),
    ...(values.subgraph && values.schema ? { proposal: { subgraph: values.subgraph, schemaFile: values.schema } } : {}),
  };
}

/** Runs a read-only git command; undefined when git, the repository or the object is absent. */
export type GitRunner = (args: string[], cwd: string) => string | undefined;

const runGit: GitRunner = (args, cwd) => {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
};

/**
 * Finds the API schema to protect. The base is the merge base of HEAD and the ref (default
 * `main`), so a branch behind main is not blamed for main's newer additions. Without git, a
 * main branch or the file at the base, the committed file is the base: nothing shipped earlier.
 */
export async function resolveBaseApiSchema(
  supergraphDir: string,
  ref: string | undefined,
  git: GitRunner = runGit,
): Promise<CheckInput['base']> {
  const prefix = git(['rev-parse', '--show-prefix'], supergraphDir)?.trim();
  const committed = await committedApiSchema(supergraphDir, prefix, git);
  if (prefix === undefined) return committed;

  const mergeBase = git(['merge-base', 'HEAD', ref ?? 'main'], supergraphDir)?.trim();
  if (!mergeBase) {
    // An explicit base that cannot be found would quietly weaken the gate; the default may be absent.
    if (ref !== undefined) {
      throw new Error(`--base ${ref}: no merge base with HEAD (in CI, check out with fetch-depth: 0)`);
    }
    return committed;
  }
  const atBase = git(['show', `${mergeBase}:${prefix}${API_SCHEMA_FILE}`], supergraphDir);
  if (atBase === undefined) return { ...committed, label: `${committed.label} (absent at ${ref ?? 'main'})` };
  return { label: `${API_SCHEMA_FILE} at merge base ${mergeBase.slice(0, 8)} of HEAD and ${ref ?? 'main'}`, apiSchemaSdl: atBase };
}

async function committedApiSchema(supergraphDir: string, prefix: string | undefined, git: GitRunner): Promise<CheckInput['base']> {
  const atHead = prefix === undefined ? undefined : git(['show', `HEAD:${prefix}${API_SCHEMA_FILE}`], supergraphDir);
  if (atHead !== undefined) return { label: `${API_SCHEMA_FILE} at HEAD`, apiSchemaSdl: atHead };
  const onDisk = await readOptional(join(supergraphDir, API_SCHEMA_FILE));
  return { label: `committed ${API_SCHEMA_FILE}`, apiSchemaSdl: onDisk };
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Reads the accepted list; a missing file means no break is accepted. */
async function loadAcceptedBreakingChanges(path: string): Promise<AcceptedBreakingChange[]> {
  const text = await readOptional(path);
  if (text === undefined) return [];
  return parseAcceptedBreakingChanges(JSON.parse(text));
}

interface CheckPaths {
  supergraphDir: string;
  configFile: string;
  acceptedFile: string;
  /** Relative `--schema` paths resolve against this (the caller's cwd). */
  cwd: string;
}

/** Loads everything `checkSupergraph` needs from disk and git. */
export async function loadCheckInput(paths: CheckPaths, options: CheckOptions, git: GitRunner = runGit): Promise<CheckInput> {
  const config = await loadSupergraphConfig(paths.configFile);
  const { sources, errors } = await readSubgraphSources(config);
  let preErrors: Diagnostic[] = errors;
  let subgraphs = sources;

  if (options.proposal) {
    const { subgraph, schemaFile } = options.proposal;
    const known = config.subgraphs.find((candidate) => candidate.name === subgraph);
    const proposedPath = resolve(paths.cwd, schemaFile);
    const sdl = await readOptional(proposedPath);
    if (!known)
      preErrors = preErrors.concat(
        proposalError('UNKNOWN_SUBGRAPH', subgraph, `unknown subgraph; known: ${config.subgraphs.map((s) => s.name).join(', ')}`),
      );
    else if (sdl === undefined)
      preErrors = preErrors.concat(proposalError('SCHEMA_FILE_MISSING', subgraph, `proposed schema ${proposedPath} cannot be read`));
    else {
      const proposed = { name: subgraph, url: known.routingUrl, sdl, source: proposedPath };
      subgraphs = [...sources.filter((source) => source.name !== subgraph), proposed];
      // The committed file being replaced may be absent (a new subgraph's first proposal).
      preErrors = preErrors.filter((error) => !error.subgraphs.includes(subgraph));
    }
  }

  const committed = options.proposal
    ? undefined
    : {
        supergraphSdl: await readOptional(join(paths.supergraphDir, SUPERGRAPH_FILE)),
        apiSchemaSdl: await readOptional(join(paths.supergraphDir, API_SCHEMA_FILE)),
      };
  return {
    subgraphs,
    preErrors,
    ...(committed ? { committed } : {}),
    base: await resolveBaseApiSchema(paths.supergraphDir, options.base, git),
    accepted: await loadAcceptedBreakingChanges(paths.acceptedFile),
  };
}

function proposalError(code: string, subgraph: string, message: string): Diagnostic {
  return {
    severity: 'error',
    code,
    message: `[${subgraph}] ${message}`,
    subgraphs: [subgraph],
    coordinate: undefined,
    locations: [],
    fix: code === 'UNKNOWN_SUBGRAPH' ? 'name a subgraph listed in supergraph/supergraph.yaml' : 'pass a readable --schema file',
  };
}
