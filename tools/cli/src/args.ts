import { parseArgs } from 'node:util';

type OptionSpec = Record<string, { type: 'string' | 'boolean'; required?: boolean }>;
type Values<O extends OptionSpec> = { [K in keyof O]: O[K]['type'] extends 'boolean' ? boolean | undefined : string | undefined };

/**
 * Reads `--name value` options; unknown options and missing required ones end the process
 * with a usage message and exit code 2.
 */
export function readOptions<const O extends OptionSpec>(argv: string[], options: O, usage: string) {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    const given = values as Record<string, unknown>;
    const missing = Object.keys(options).filter((name) => options[name]?.required && given[name] === undefined);
    if (missing.length > 0) throw new Error(`missing ${missing.map((name) => `--${name}`).join(', ')}`);
    return { values: given as Values<O>, positionals };
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${usage}`);
    process.exit(2);
  }
}
