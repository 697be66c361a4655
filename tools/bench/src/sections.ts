// The sections of BENCHMARKS.md each special run writes (`--noisy`, `--subscriptions`, `--tracing`,
// `--events`): a run replaces its own section and leaves the others; the main run keeps them all.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const FILE = fileURLToPath(new URL('../../../BENCHMARKS.md', import.meta.url));

/** The headings of the sections written by the special runs, in the order they appear when added. */
export const SECTION_HEADINGS = ['## Noisy neighbour', '## Subscriptions', '## Tracing cost', '## Domain events'] as const;
type Heading = (typeof SECTION_HEADINGS)[number];

/** `markdown`'s section under `heading` (to the next `## `), or '' when it has none. */
export function sectionOf(markdown: string, heading: Heading): string {
  const start = markdown.indexOf(heading);
  if (start < 0) return '';
  const next = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, next < 0 ? undefined : next + 1);
}

/** `markdown` with its section under `heading` replaced by `section`, or `section` added at the end. */
export function withSection(markdown: string, heading: Heading, section: string): string {
  const current = sectionOf(markdown, heading);
  if (!current) return `${markdown.trimEnd()}\n\n${section.trimEnd()}\n`;
  // A blank line before the next section, if one follows.
  const last = markdown.indexOf(current) + current.length === markdown.length;
  return markdown.replace(current, `${section.trimEnd()}\n${last ? '' : '\n'}`);
}

/** Writes one run's section into BENCHMARKS.md, headed `heading` and naming the command that made it; a `--quick` run writes nothing. */
export async function writeSection(heading: Heading, body: string): Promise<void> {
  if (process.argv.includes('--quick')) return;
  const command = `npx pnpm@10 bench ${process.argv.slice(2).join(' ')}`.trim();
  const section = `${heading} (\`${command}\`, ${new Date().toISOString().slice(0, 10)})\n\n${body.trim()}\n`;
  const current = await readFile(FILE, 'utf8').catch(() => '# Benchmarks\n');
  await writeFile(FILE, withSection(current, heading, section));
}

/** Every special run's section of BENCHMARKS.md as it is now, to keep when the main run rewrites the file. */
export async function keptSections(): Promise<string> {
  const current = await readFile(FILE, 'utf8').catch(() => '');
  return SECTION_HEADINGS.map((heading) => sectionOf(current, heading))
    .filter(Boolean)
    .map((section) => `\n${section.trimEnd()}\n`)
    .join('');
}
