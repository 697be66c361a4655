// Bundles the explorer (explorer/main.js: GraphiQL, React, their CSS) into explorer/dist/, the
// static files the gateway serves at GET /graphql for a browser. Nothing is fetched at run time.
// Runs at install (postinstall, with --if-possible: a production install has no esbuild or
// graphiql, and then simply has no explorer) and as `pnpm build:explorer`.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const require = createRequire(import.meta.url);
const ifPossible = process.argv.includes('--if-possible');

let esbuild;
try {
  require.resolve('graphiql');
  esbuild = await import('esbuild');
} catch {
  if (ifPossible) {
    console.log('explorer: esbuild or graphiql not installed (production install); not built');
    process.exit(0);
  }
  throw new Error('explorer: install the workspace first (npx pnpm@10 install)');
}

const result = await esbuild.build({
  entryPoints: { explorer: `${here}main.js` },
  outdir: `${here}dist`,
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome110', 'firefox110', 'safari16'],
  define: { 'process.env.NODE_ENV': '"production"' },
  // Fonts and images of the stylesheet go inline: the page needs nothing but these two files.
  loader: { '.woff': 'dataurl', '.woff2': 'dataurl', '.ttf': 'dataurl', '.svg': 'dataurl', '.png': 'dataurl' },
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
});
const sizes = Object.entries(result.metafile.outputs).map(([file, { bytes }]) => `${file.split('/').pop()} ${Math.round(bytes / 1024)} KB`);
console.log(`explorer: built ${sizes.join(', ')}${existsSync(`${here}dist/explorer.css`) ? '' : ' (no stylesheet!)'}`);
