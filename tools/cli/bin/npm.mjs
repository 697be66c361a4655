#!/usr/bin/env node
// pnpm 10 hands a few command names, `token` among them, to npm instead of running the
// workspace script of that name. The root .npmrc points pnpm's `npm-path` here: `token` runs
// our script, everything else goes on to the real npm unchanged.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const [command, ...rest] = process.argv.slice(2);
const result =
  command === 'token'
    ? spawnSync(`${root}node_modules/.bin/tsx`, [`${root}tools/cli/src/token.ts`, ...rest], { stdio: 'inherit' })
    : spawnSync('npm', process.argv.slice(2), { stdio: 'inherit' });
process.exit(result.status ?? 1);
