import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CompositionSuccess, composeServices } from '@apollo/composition';
import { errorCodeDef, ROUTER_SUPPORTED_SUPERGRAPH_FEATURES, Supergraph } from '@apollo/federation-internals';
import type { DocumentNode, GraphQLError } from 'graphql';
import { graphql } from './commonjs.ts';
import type { SupergraphConfig } from './supergraph-config.ts';

/** A subgraph's SDL ready to compose; `source` says where it came from, for messages. */
export interface SubgraphSource {
  name: string;
  url: string;
  sdl: string;
  source?: string;
}

/** One composition error or hint, flattened into what a person needs to fix it. */
export interface Diagnostic {
  severity: 'error' | 'hint';
  code: string;
  message: string;
  subgraphs: string[];
  /** `Type` or `Type.field` when the message names one. */
  coordinate: string | undefined;
  /** `subgraph:line` positions of the offending definitions, where known. */
  locations: string[];
  fix: string;
}

type CompositionOutcome =
  | { ok: true; supergraphSdl: string; apiSchemaSdl: string; hints: Diagnostic[] }
  | { ok: false; errors: Diagnostic[]; hints: Diagnostic[] };

export const SUPERGRAPH_FILE = 'supergraph.graphql';
export const API_SCHEMA_FILE = 'api-schema.graphql';

const ERRORS_DOCS = 'https://www.apollographql.com/docs/graphos/reference/federation/errors';
const HINTS_DOCS = 'https://www.apollographql.com/docs/graphos/reference/federation/hints';

// The fixes teams need most often, in our words; every other code falls back to Apollo's
// own description plus the docs anchor, so no error is ever reported without a way forward.
const FIXES: Record<string, string> = {
  FIELD_TYPE_MISMATCH: 'give the field the same type in every subgraph that defines it (or drop it from all but the owning subgraph).',
  FIELD_ARGUMENT_TYPE_MISMATCH: 'give the argument the same type in every subgraph that defines the field.',
  INVALID_FIELD_SHARING:
    'let one subgraph own the field and remove it from the others, or mark it @shareable in every subgraph that resolves it (import "@shareable" in @link); to move a field between subgraphs use @override(from: "...").',
  TYPE_KIND_MISMATCH: 'use the same kind (type, interface, input, enum ...) for this name in every subgraph, or rename one of them.',
  ENUM_VALUE_MISMATCH: 'an enum used as both input and output must list the same values in every subgraph.',
  EMPTY_MERGED_ENUM_TYPE: 'an enum used only as input keeps the values common to all subgraphs: make them share at least one value.',
  REQUIRED_ARGUMENT_MISSING_IN_SOME_SUBGRAPH:
    'declare the required argument in every subgraph that defines the field, or make it optional.',
  REQUIRED_INPUT_FIELD_MISSING_IN_SOME_SUBGRAPH:
    'declare the required input field in every subgraph that defines the input type, or make it optional.',
  EXTENSION_WITH_NO_BASE: 'define the type (not only `extend type`) in at least one subgraph.',
  SATISFIABILITY_ERROR:
    'some query cannot be planned: make sure each entity has a @key in the subgraphs that add fields to it and that the field is reachable from a subgraph that can resolve it.',
  INVALID_GRAPHQL: 'fix the SDL at the location shown; the file must parse and validate on its own.',
  SCHEMA_FILE_MISSING: 'commit the subgraph schema file, or fix its path in supergraph/supergraph.yaml.',
  UNKNOWN_SUBGRAPH: 'name one of the subgraphs listed in supergraph/supergraph.yaml.',
  NO_QUERIES: 'at least one subgraph must define a field on Query.',
  KEY_FIELDS_SELECT_INVALID_TYPE: 'a @key may only select scalar, enum or object fields without arguments.',
  KEY_INVALID_FIELDS: 'the @key(fields:) selection must name existing fields of the type.',
};

/** Composes subgraphs into a supergraph and its client API schema, or explains why it cannot. */
export function composeSubgraphs(subgraphs: readonly SubgraphSource[]): CompositionOutcome {
  const parsed = subgraphs.map(parseSubgraph);
  const parseErrors = parsed.flatMap((result) => ('error' in result ? [result.error] : []));
  if (parseErrors.length > 0) return { ok: false, errors: parseErrors, hints: [] };

  const services = parsed.flatMap((result, index) => {
    const subgraph = subgraphs[index]!;
    return 'document' in result ? [{ name: subgraph.name, url: subgraph.url, typeDefs: result.document }] : [];
  });
  const names = subgraphs.map((subgraph) => subgraph.name);
  const result = composeServices(services);
  // A failed composition reports no hints, only errors.
  if (result.errors) {
    return { ok: false, errors: result.errors.map((error) => describeError(error, names)), hints: [] };
  }
  const hints = result.hints.map((hint) => describeHint(hint, names));
  const apiSchemaSdl = buildApiSchemaSdl(result.supergraphSdl);
  return { ok: true, supergraphSdl: withNewline(result.supergraphSdl), apiSchemaSdl, hints };
}

function parseSubgraph(subgraph: SubgraphSource): { document: DocumentNode } | { error: Diagnostic } {
  try {
    return { document: graphql.parse(subgraph.sdl) };
  } catch (error) {
    const graphqlError = error instanceof graphql.GraphQLError ? error : new graphql.GraphQLError(String(error));
    const line = graphqlError.locations?.[0]?.line;
    return {
      error: {
        severity: 'error',
        code: 'INVALID_GRAPHQL',
        message: `[${subgraph.name}] ${graphqlError.message}`,
        subgraphs: [subgraph.name],
        coordinate: undefined,
        locations: line === undefined ? [] : [`${subgraph.source ?? subgraph.name}:${line}`],
        fix: FIXES.INVALID_GRAPHQL!,
      },
    };
  }
}

/** The client-facing schema: federation directives, join types and @inaccessible elements removed. */
function buildApiSchemaSdl(supergraphSdl: string): string {
  // The router's feature set: the default one refuses the `for: SECURITY` links that
  // @authenticated and @requiresScopes bring (the gateway enforces them itself).
  const apiSchema = Supergraph.build(supergraphSdl, { supportedFeatures: ROUTER_SUPPORTED_SUPERGRAPH_FEATURES }).apiSchema();
  return withNewline(graphql.printSchema(apiSchema.toGraphQLJSSchema()));
}

function describeError(error: GraphQLError, names: readonly string[]): Diagnostic {
  const code = typeof error.extensions.code === 'string' ? error.extensions.code : 'COMPOSITION_ERROR';
  const fix =
    FIXES[code] ?? `${errorCodeDef(code)?.description ?? 'see the federation error reference'} (${ERRORS_DOCS}#${code.toLowerCase()})`;
  return {
    severity: 'error',
    code,
    message: error.message,
    subgraphs: subgraphsOf(error.message, error.nodes, names),
    coordinate: coordinateOf(error.message),
    locations: locationsOf(error.nodes),
    fix,
  };
}

function describeHint(hint: CompositionSuccess['hints'][number], names: readonly string[]): Diagnostic {
  const code = hint.definition.code;
  return {
    severity: 'hint',
    code,
    message: hint.message,
    subgraphs: subgraphsOf(hint.message, hint.nodes, names),
    coordinate: hint.coordinate ?? coordinateOf(hint.message),
    locations: locationsOf(hint.nodes),
    fix: `${hint.definition.description} (${HINTS_DOCS}#${code.toLowerCase()})`,
  };
}

interface MaybeSubgraphNode {
  subgraph?: string;
  loc?: { startToken: { line: number } };
}

// Composition names subgraphs in the message text ("in subgraph \"a\"", "[a] ...") more
// reliably than on the AST nodes, which lose their subgraph after merging; read both.
function subgraphsOf(message: string, nodes: readonly unknown[] | undefined, names: readonly string[]): string[] {
  const found = new Set<string>();
  for (const node of (nodes ?? []) as MaybeSubgraphNode[]) {
    if (node.subgraph) found.add(node.subgraph);
  }
  for (const name of names) {
    if (message.includes(`"${name}"`) || message.startsWith(`[${name}]`)) found.add(name);
  }
  return names.filter((name) => found.has(name));
}

function coordinateOf(message: string): string | undefined {
  const match = /"([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?(?:\([A-Za-z_][A-Za-z0-9_]*:\))?)"/.exec(message);
  return match?.[1];
}

function locationsOf(nodes: readonly unknown[] | undefined): string[] {
  return ((nodes ?? []) as MaybeSubgraphNode[]).flatMap((node) =>
    node.subgraph && node.loc ? [`${node.subgraph}:${node.loc.startToken.line}`] : [],
  );
}

function withNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

/** Reads every subgraph's SDL file; a missing file becomes a diagnostic naming the subgraph. */
export async function readSubgraphSources(config: SupergraphConfig): Promise<{ sources: SubgraphSource[]; errors: Diagnostic[] }> {
  const sources: SubgraphSource[] = [];
  const errors: Diagnostic[] = [];
  for (const subgraph of config.subgraphs) {
    try {
      const sdl = await readFile(subgraph.schemaFile, 'utf8');
      sources.push({ name: subgraph.name, url: subgraph.routingUrl, sdl, source: subgraph.schemaFile });
    } catch {
      errors.push({
        severity: 'error',
        code: 'SCHEMA_FILE_MISSING',
        message: `[${subgraph.name}] schema file ${subgraph.schemaFile} cannot be read`,
        subgraphs: [subgraph.name],
        coordinate: undefined,
        locations: [],
        fix: FIXES.SCHEMA_FILE_MISSING!,
      });
    }
  }
  return { sources, errors };
}

/** Composes the subgraphs a config names; unreadable files fail composition without composing the rest. */
export async function composeFromConfig(config: SupergraphConfig): Promise<CompositionOutcome> {
  const { sources, errors } = await readSubgraphSources(config);
  if (errors.length > 0) return { ok: false, errors, hints: [] };
  return composeSubgraphs(sources);
}

/** Writes both output files; callers only reach here with a successful composition. */
export async function writeComposition(supergraphDir: string, outcome: { supergraphSdl: string; apiSchemaSdl: string }): Promise<string[]> {
  const files = [join(supergraphDir, SUPERGRAPH_FILE), join(supergraphDir, API_SCHEMA_FILE)];
  await writeFile(files[0]!, outcome.supergraphSdl);
  await writeFile(files[1]!, outcome.apiSchemaSdl);
  return files;
}

/** Prints diagnostics as indented report lines; shared by compose and check. */
export function formatDiagnostic(diagnostic: Diagnostic): string[] {
  const mark = diagnostic.severity === 'error' ? '✖' : '⚠';
  const where = [
    diagnostic.subgraphs.length > 0 ? `subgraph ${diagnostic.subgraphs.join(', ')}` : undefined,
    diagnostic.coordinate ? `at ${diagnostic.coordinate}` : undefined,
    diagnostic.locations.length > 0 ? `(${diagnostic.locations.join(', ')})` : undefined,
  ]
    .filter(Boolean)
    .join(' ');
  return [
    `  ${mark} ${diagnostic.code}${where ? ` — ${where}` : ''}`,
    ...diagnostic.message.split('\n').map((line) => `      ${line}`),
    `      fix: ${diagnostic.fix}`,
  ];
}
