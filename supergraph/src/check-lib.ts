import type { Change } from '@graphql-inspector/core';
import { accessPolicyOf } from '@tenantgraph/core';
import type { ConstDirectiveNode, DocumentNode, EnumTypeDefinitionNode } from 'graphql';
import { graphql, inspector } from './commonjs.ts';
import { API_SCHEMA_FILE, composeSubgraphs, type Diagnostic, SUPERGRAPH_FILE, type SubgraphSource } from './compose-lib.ts';

/** An entry of `accepted-breaking-changes.json`: a reviewed, intended breaking change. */
export interface AcceptedBreakingChange {
  /** The inspector change path, e.g. `Product.sku` or `Query.products.first`. */
  path: string;
  /** Optional narrowing: the inspector change type, e.g. `FIELD_REMOVED`. */
  type?: string;
  /** Optional narrowing: the exact inspector message. */
  message?: string;
  /** Why the break is acceptable and who reviewed it. */
  reason: string;
}

export interface ReportedChange {
  path: string;
  type: string;
  criticality: 'BREAKING' | 'DANGEROUS' | 'NON_BREAKING';
  message: string;
  acceptedBecause?: string;
}

export interface DriftedFile {
  file: string;
  status: 'missing' | 'differs';
  /** A short excerpt around the first difference, `-` committed, `+` composed. */
  excerpt: string[];
}

export interface CheckInput {
  subgraphs: SubgraphSource[];
  /** Errors found before composing (unreadable files, unknown proposal subgraph). */
  preErrors?: Diagnostic[];
  /** The committed outputs; leave undefined to skip the drift check, as proposals do. */
  committed?: { supergraphSdl: string | undefined; apiSchemaSdl: string | undefined };
  /** The client API to protect; `apiSchemaSdl` undefined means there is nothing to break yet. */
  base: { label: string; apiSchemaSdl: string | undefined };
  accepted: AcceptedBreakingChange[];
}

export interface CheckReport {
  ok: boolean;
  composition: { ok: boolean; errors: Diagnostic[]; hints: Diagnostic[] };
  drift: { ok: boolean; skipped?: string; files: DriftedFile[] };
  breaking: {
    ok: boolean;
    base: string;
    skipped?: string;
    error?: string;
    breaking: ReportedChange[];
    accepted: ReportedChange[];
    dangerous: ReportedChange[];
    safe: ReportedChange[];
    /** Accepted entries that matched nothing: stale once the break has shipped, safe to delete. */
    unusedAccepted: AcceptedBreakingChange[];
  };
}

export const COMPOSE_COMMAND = 'npx pnpm@10 supergraph:compose';

/** Runs every check on already-loaded inputs: no file system, no git, so tests drive it directly. */
export async function checkSupergraph(input: CheckInput): Promise<CheckReport> {
  const outcome =
    input.preErrors && input.preErrors.length > 0
      ? { ok: false as const, errors: input.preErrors, hints: [] }
      : composeSubgraphs(input.subgraphs);
  // A supergraph that composes can still fail the gate: every mutation must declare its access.
  const policyErrors = outcome.ok ? mutationsWithoutPolicy(outcome.supergraphSdl) : [];
  const composition = outcome.ok
    ? { ok: policyErrors.length === 0, errors: policyErrors, hints: outcome.hints }
    : { ok: false, errors: outcome.errors, hints: outcome.hints };

  if (!outcome.ok) {
    const skipped = 'composition failed';
    return {
      ok: false,
      composition,
      drift: { ok: input.committed === undefined, skipped: input.committed ? skipped : 'proposal: not checked', files: [] },
      breaking: { ...emptyBreaking(input.base.label), ok: false, skipped },
    };
  }

  const drift = input.committed ? checkDrift(input.committed, outcome) : { ok: true, skipped: 'proposal: not checked', files: [] };
  const breaking = await checkBreakingChanges(input.base, outcome.apiSchemaSdl, input.accepted);
  return { ok: composition.ok && drift.ok && breaking.ok, composition, drift, breaking };
}

const POLICY_FIX =
  'declare who may call it where it is defined: @requiresScopes(scopes: [["<resource>:write"]]), or @authenticated if any ' +
  'signed-in caller may (import "@requiresScopes" / "@authenticated" in the subgraph\'s federation @link); the gateway ' +
  'and the subgraph both enforce it.';

/**
 * Mutations whose access the schema does not declare (no `@requiresScopes` or `@authenticated`
 * on the field or on the mutation type): a write nobody decided on is a gate failure.
 */
function mutationsWithoutPolicy(supergraphSdl: string): Diagnostic[] {
  const document = graphql.parse(supergraphSdl);
  const policy = accessPolicyOf(document);
  const root = mutationTypeName(document);
  if (policy.has(root)) return [];
  const graphs = subgraphNames(document);
  return document.definitions.flatMap((definition) => {
    if (definition.kind !== graphql.Kind.OBJECT_TYPE_DEFINITION || definition.name.value !== root) return [];
    const graphsOf = (directives: readonly ConstDirectiveNode[] | undefined, name: string) =>
      (directives ?? [])
        .filter((directive) => directive.name.value === name)
        .flatMap((directive) => directive.arguments?.filter((argument) => argument.name.value === 'graph') ?? [])
        .flatMap(({ value }) => (value.kind === graphql.Kind.ENUM ? [graphs.get(value.value) ?? value.value] : []));
    return (definition.fields ?? []).flatMap((field): Diagnostic[] => {
      const coordinate = `${root}.${field.name.value}`;
      if (policy.has(coordinate)) return [];
      // A field of one subgraph's Mutation type has no @join__field: its owner is the type's.
      const byField = graphsOf(field.directives, 'join__field');
      const owners = byField.length > 0 ? byField : graphsOf(definition.directives, 'join__type');
      return [
        {
          severity: 'error',
          code: 'MUTATION_WITHOUT_POLICY',
          message: `${coordinate} does not say who may call it.`,
          subgraphs: owners,
          coordinate,
          locations: [],
          fix: POLICY_FIX,
        },
      ];
    });
  });
}

function mutationTypeName(document: DocumentNode): string {
  for (const definition of document.definitions) {
    if (definition.kind !== graphql.Kind.SCHEMA_DEFINITION) continue;
    const mutation = definition.operationTypes.find((operationType) => operationType.operation === 'mutation');
    if (mutation) return mutation.type.name.value;
  }
  return 'Mutation';
}

/** `join__Graph` enum values (`ORDER`) to subgraph names (`order`). */
function subgraphNames(document: DocumentNode): Map<string, string> {
  const graphs = document.definitions.find(
    (definition): definition is EnumTypeDefinitionNode =>
      definition.kind === graphql.Kind.ENUM_TYPE_DEFINITION && definition.name.value === 'join__Graph',
  );
  return new Map(
    (graphs?.values ?? []).map((value) => {
      const graph = value.directives?.find((directive) => directive.name.value === 'join__graph');
      const name = graph?.arguments?.find((argument) => argument.name.value === 'name');
      return [value.name.value, name?.value.kind === graphql.Kind.STRING ? name.value.value : value.name.value];
    }),
  );
}

function emptyBreaking(base: string): CheckReport['breaking'] {
  return { ok: true, base, breaking: [], accepted: [], dangerous: [], safe: [], unusedAccepted: [] };
}

/** Compares committed outputs with a fresh composition, line endings aside. */
function checkDrift(
  committed: { supergraphSdl: string | undefined; apiSchemaSdl: string | undefined },
  fresh: { supergraphSdl: string; apiSchemaSdl: string },
): CheckReport['drift'] {
  const files: DriftedFile[] = [];
  const pairs: [string, string | undefined, string][] = [
    [SUPERGRAPH_FILE, committed.supergraphSdl, fresh.supergraphSdl],
    [API_SCHEMA_FILE, committed.apiSchemaSdl, fresh.apiSchemaSdl],
  ];
  for (const [file, before, after] of pairs) {
    if (before === undefined) {
      files.push({ file, status: 'missing', excerpt: [] });
    } else if (normalize(before) !== normalize(after)) {
      files.push({ file, status: 'differs', excerpt: firstDifference(normalize(before), normalize(after)) });
    }
  }
  return { ok: files.length === 0, files };
}

function normalize(text: string): string {
  return `${text.replace(/\r\n/g, '\n').trimEnd()}\n`;
}

/**
 * The first changed hunk with a little context. Not a full diff: the fix is always to
 * recompose, so the excerpt only has to show that, and roughly where, the files differ.
 */
function firstDifference(before: string, after: string, context = 2, limit = 8): string[] {
  const a = before.split('\n');
  const b = after.split('\n');
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const lines = [`@@ line ${start + 1} @@`];
  for (const line of a.slice(Math.max(0, start - context), start)) lines.push(`  ${line}`);
  lines.push(...clip(a.slice(start, endA), '- ', limit));
  lines.push(...clip(b.slice(start, endB), '+ ', limit));
  return lines;
}

function clip(lines: string[], prefix: string, limit: number): string[] {
  const shown = lines.slice(0, limit).map((line) => `${prefix}${line}`);
  if (lines.length > limit) shown.push(`${prefix}… ${lines.length - limit} more line(s)`);
  return shown;
}

/** Diffs the composed API schema against the base with graphql-inspector and applies the accepted list. */
async function checkBreakingChanges(
  base: { label: string; apiSchemaSdl: string | undefined },
  apiSchemaSdl: string,
  accepted: readonly AcceptedBreakingChange[],
): Promise<CheckReport['breaking']> {
  const result = emptyBreaking(base.label);
  if (base.apiSchemaSdl === undefined) return { ...result, skipped: 'no base API schema: nothing to break yet' };

  let changes: Change[];
  try {
    changes = await inspector.diff(graphql.buildSchema(base.apiSchemaSdl), graphql.buildSchema(apiSchemaSdl));
  } catch (error) {
    return { ...result, ok: false, error: `cannot compare schemas: ${error instanceof Error ? error.message : String(error)}` };
  }

  const used = new Set<AcceptedBreakingChange>();
  for (const change of changes) {
    const reported = toReportedChange(change);
    if (reported.criticality === 'BREAKING') {
      const entry = accepted.find((candidate) => matchesAccepted(candidate, reported));
      if (entry) {
        used.add(entry);
        result.accepted.push({ ...reported, acceptedBecause: entry.reason });
      } else {
        result.breaking.push(reported);
      }
    } else if (reported.criticality === 'DANGEROUS') {
      result.dangerous.push(reported);
    } else {
      result.safe.push(reported);
    }
  }
  result.unusedAccepted = accepted.filter((entry) => !used.has(entry));
  result.ok = result.breaking.length === 0;
  return result;
}

function toReportedChange(change: Change): ReportedChange {
  return {
    // A few schema-level changes have no path; their type is the most stable handle to accept them by.
    path: change.path ?? change.type,
    type: change.type,
    criticality: change.criticality.level as ReportedChange['criticality'],
    message: change.message,
  };
}

/** Path must match; `type` and `message`, when the entry gives them, narrow the match further. */
function matchesAccepted(entry: AcceptedBreakingChange, change: ReportedChange): boolean {
  return (
    entry.path === change.path &&
    (entry.type === undefined || entry.type === change.type) &&
    (entry.message === undefined || entry.message === change.message)
  );
}

/** Validates the parsed `accepted-breaking-changes.json`; a reason is required so every break is explained. */
export function parseAcceptedBreakingChanges(json: unknown): AcceptedBreakingChange[] {
  if (!Array.isArray(json)) throw new Error('accepted-breaking-changes.json must be a JSON array');
  return json.map((entry: unknown, index) => {
    const record = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    const { path, type, message, reason } = record;
    const optionalString = (value: unknown) => value === undefined || typeof value === 'string';
    if (typeof path !== 'string' || path === '' || typeof reason !== 'string' || reason.trim() === '') {
      throw new Error(`accepted-breaking-changes.json entry ${index}: needs a non-empty "path" and "reason"`);
    }
    if (!optionalString(type) || !optionalString(message)) {
      throw new Error(`accepted-breaking-changes.json entry ${index}: "type" and "message" must be strings when given`);
    }
    return {
      path,
      reason,
      ...(type === undefined ? {} : { type: type as string }),
      ...(message === undefined ? {} : { message: message as string }),
    };
  });
}
