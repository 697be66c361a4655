import { type CheckReport, COMPOSE_COMMAND, type ReportedChange } from './check-lib.ts';
import { formatDiagnostic } from './compose-lib.ts';

interface ReportContext {
  subgraphs: string[];
  proposal?: { subgraph: string; schemaFile: string };
}

/** The human report: one section per check, ✔/✖ first so a CI log can be skimmed. */
export function renderReport(report: CheckReport, context: ReportContext): string {
  const title = context.proposal
    ? `Supergraph check: proposal for "${context.proposal.subgraph}" from ${context.proposal.schemaFile}`
    : `Supergraph check: ${context.subgraphs.length} subgraphs (${context.subgraphs.join(', ')})`;
  const lines = [title, ''];
  lines.push(...renderComposition(report), '');
  lines.push(...renderDrift(report), '');
  lines.push(...renderBreaking(report), '');
  lines.push(report.ok ? '✔ Supergraph check passed' : `✖ Supergraph check failed: ${failedSections(report).join(', ')}`);
  return lines.join('\n');
}

function failedSections(report: CheckReport): string[] {
  return [
    report.composition.ok ? undefined : 'composition',
    report.drift.ok ? undefined : 'drift',
    report.breaking.ok || !report.composition.ok ? undefined : 'breaking changes',
  ].filter((name): name is string => name !== undefined);
}

function renderComposition(report: CheckReport): string[] {
  const { ok, errors, hints } = report.composition;
  const lines = ok
    ? [`✔ Composition${hints.length > 0 ? ` (${hints.length} hint(s), not failing)` : ''}`]
    : [`✖ Composition: ${errors.length} error(s)`];
  for (const error of errors) lines.push(...formatDiagnostic(error));
  for (const hint of hints) lines.push(...formatDiagnostic(hint));
  return lines;
}

function renderDrift(report: CheckReport): string[] {
  const { ok, skipped, files } = report.drift;
  if (skipped) return [`- Drift: skipped (${skipped})`];
  if (ok) return ['✔ Drift: committed supergraph.graphql and api-schema.graphql match a fresh composition'];
  const lines = ['✖ Drift: committed files differ from a fresh composition'];
  for (const file of files) {
    lines.push(`  ✖ supergraph/${file.file} ${file.status === 'missing' ? 'is missing' : 'differs'}`);
    lines.push(...file.excerpt.map((line) => `      ${line}`));
  }
  lines.push(`      fix: run \`${COMPOSE_COMMAND}\` and commit supergraph/supergraph.graphql and supergraph/api-schema.graphql`);
  return lines;
}

function renderBreaking(report: CheckReport): string[] {
  const result = report.breaking;
  if (result.skipped) return [`- Breaking changes: skipped (${result.skipped})`];
  if (result.error) return [`✖ Breaking changes against ${result.base}: ${result.error}`];
  const lines = [
    result.ok ? `✔ Breaking changes: none against ${result.base}` : `✖ Breaking changes: ${result.breaking.length} against ${result.base}`,
  ];
  for (const change of result.breaking) {
    lines.push(`  ✖ ${change.path} ${change.type}: ${change.message}`);
    lines.push(`      fix: ${breakingFix(change)}`);
  }
  for (const change of result.accepted) lines.push(`  ✔ accepted ${change.path} ${change.type}: ${change.acceptedBecause}`);
  for (const change of result.dangerous) lines.push(`  ⚠ dangerous ${change.path}: ${change.message}`);
  for (const change of result.safe) lines.push(`  · safe ${change.path}: ${change.message}`);
  for (const entry of result.unusedAccepted) {
    lines.push(`  · accepted entry "${entry.path}" matched nothing; delete it once the change has shipped`);
  }
  return lines;
}

function breakingFix(change: ReportedChange): string {
  const entry = JSON.stringify({ path: change.path, type: change.type, reason: 'why, reviewed by whom' });
  const keep =
    change.type === 'FIELD_REMOVED'
      ? 'keep the field and mark it @deprecated(reason: "...") until clients stop using it'
      : 'keep the old contract (add a new field or an optional argument instead)';
  return `${keep}; if the break is intended, add ${entry} to supergraph/accepted-breaking-changes.json`;
}
