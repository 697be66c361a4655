import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/** One subgraph as `supergraph.yaml` names it. `schemaFile` is absolute once loaded. */
export interface SubgraphConfig {
  name: string;
  routingUrl: string;
  schemaFile: string;
}

export interface SupergraphConfig {
  federationVersion: string | undefined;
  subgraphs: SubgraphConfig[];
}

type YamlValue = string | YamlMap;
interface YamlMap {
  [key: string]: YamlValue;
}

interface YamlLine {
  number: number;
  indent: number;
  key: string;
  value: string;
}

/**
 * Reads the block-style YAML subset that rover's `supergraph.yaml` uses: nested maps of
 * scalars, comments, quoted strings. Anything else (lists, flow style, anchors) is
 * rejected with its line number rather than misread, since a misread config would
 * silently compose the wrong graph. No YAML library is installed in this workspace.
 */
export function parseYamlMap(text: string): YamlMap {
  const lines = tokenizeYaml(text);
  const [map, next] = readMap(lines, 0, 0);
  if (next < lines.length) {
    const line = lines[next]!;
    throw new Error(`supergraph.yaml line ${line.number}: unexpected indentation`);
  }
  return map;
}

function tokenizeYaml(text: string): YamlLine[] {
  const lines: YamlLine[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const number = index + 1;
    const content = stripComment(raw).trimEnd();
    if (content.trim() === '' || content.trim() === '---') return;
    if (content.includes('\t')) throw new Error(`supergraph.yaml line ${number}: tabs are not allowed in YAML`);
    const indent = content.length - content.trimStart().length;
    const match = /^([A-Za-z0-9_.-]+|"[^"]*"|'[^']*'):(?:\s+(.*))?$/.exec(content.trim());
    if (!match) throw new Error(`supergraph.yaml line ${number}: expected "key: value", got "${content.trim()}"`);
    lines.push({ number, indent, key: unquote(match[1]!), value: (match[2] ?? '').trim() });
  });
  return lines;
}

// A "#" starts a comment only outside quotes and after whitespace (URLs may contain "#").
function stripComment(raw: string): string {
  let quote: string | undefined;
  for (let i = 0; i < raw.length; i++) {
    const char = raw[i]!;
    if (quote) {
      if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'") {
      quote = char;
    } else if (char === '#' && (i === 0 || /\s/.test(raw[i - 1]!))) {
      return raw.slice(0, i);
    }
  }
  return raw;
}

function readMap(lines: YamlLine[], start: number, indent: number): [YamlMap, number] {
  const map: YamlMap = {};
  let index = start;
  while (index < lines.length) {
    const line = lines[index]!;
    if (line.indent < indent) break;
    if (line.indent > indent) throw new Error(`supergraph.yaml line ${line.number}: unexpected indentation`);
    if (line.key in map) throw new Error(`supergraph.yaml line ${line.number}: duplicate key "${line.key}"`);
    if (line.value === '') {
      const child = lines[index + 1];
      if (!child || child.indent <= indent) throw new Error(`supergraph.yaml line ${line.number}: "${line.key}" has no value`);
      const [nested, next] = readMap(lines, index + 1, child.indent);
      map[line.key] = nested;
      index = next;
    } else {
      map[line.key] = readScalar(line);
      index++;
    }
  }
  return [map, index];
}

function readScalar(line: YamlLine): string {
  const value = line.value;
  if (/^[[{&*!|>]/.test(value) || value.startsWith('- ')) {
    throw new Error(`supergraph.yaml line ${line.number}: only plain or quoted scalars and block maps are supported`);
  }
  return unquote(value);
}

function unquote(value: string): string {
  if (value.length >= 2 && ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'")))) {
    return value.slice(1, -1);
  }
  return value;
}

/** Validates the parsed map as a rover supergraph config; relative schema paths resolve against `baseDir`. */
export function toSupergraphConfig(map: YamlMap, baseDir: string): SupergraphConfig {
  const federationVersion = map.federation_version;
  if (federationVersion !== undefined && typeof federationVersion !== 'string') {
    throw new Error('supergraph.yaml: federation_version must be a string such as "=2.14.4"');
  }
  const subgraphs = map.subgraphs;
  if (subgraphs === undefined || typeof subgraphs === 'string') {
    throw new Error('supergraph.yaml: "subgraphs" must be a map of subgraph names');
  }
  return {
    federationVersion,
    subgraphs: Object.entries(subgraphs).map(([name, entry]) => toSubgraphConfig(name, entry, baseDir)),
  };
}

function toSubgraphConfig(name: string, entry: YamlValue, baseDir: string): SubgraphConfig {
  if (typeof entry === 'string') throw new Error(`supergraph.yaml: subgraph "${name}" must be a map`);
  const routingUrl = entry.routing_url;
  const schema = entry.schema;
  if (typeof routingUrl !== 'string') throw new Error(`supergraph.yaml: subgraph "${name}" needs routing_url`);
  // rover also accepts subgraph_url (introspection) and graphref; the gate must read committed files only.
  if (schema === undefined || typeof schema === 'string' || typeof schema.file !== 'string') {
    throw new Error(`supergraph.yaml: subgraph "${name}" needs schema.file (only file schemas are supported)`);
  }
  return { name, routingUrl, schemaFile: resolve(baseDir, schema.file) };
}

/** Reads and validates a `supergraph.yaml` file. */
export async function loadSupergraphConfig(path: string): Promise<SupergraphConfig> {
  const text = await readFile(path, 'utf8');
  return toSupergraphConfig(parseYamlMap(text), dirname(path));
}
