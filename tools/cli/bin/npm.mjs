#!/usr/bin/env node
// pnpm 10 hands a few command names, `token` among them, to npm instead of running the
// workspace script of that name. It runs `npm` with the workspace root's node_modules/.bin
// first on PATH, where this file is linked as `npm` (the root package depends on this one for
// its `bin`): `token` runs our script, everything else goes on to the real npm unchanged.
// (Not pnpm's `npm-path` setting: it lives in .npmrc, and npm itself warns about it there.)
import { spawnSync } from 'node:child_process';
import { delimiter, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const [command, ...rest] = process.argv.slice(2);
if (command === 'token') {
  const result = spawnSync(`${root}node_modules/.bin/tsx`, [`${root}tools/cli/src/token.ts`, ...rest], { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}
// The real npm: the same PATH without the folder that holds this shim.
const ownBin = resolve(root, 'node_modules/.bin');
const path = (process.env.PATH ?? '').split(delimiter).filter((entry) => entry !== '' && resolve(entry) !== ownBin);
const result = spawnSync('npm', process.argv.slice(2), { stdio: 'inherit', env: { ...process.env, PATH: path.join(delimiter) } });
process.exit(result.status ?? 1);
