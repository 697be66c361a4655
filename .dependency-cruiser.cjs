// The layers of the repository, checked by `pnpm lint` (`pnpm layers`):
// tools/ (cli, bench) → services/ → packages/ (libraries), and no import circles anywhere.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import circle: the modules cannot be read (or changed) one at a time.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'packages-are-libraries',
      severity: 'error',
      comment: 'packages/ sits below services/ and tools/: a library never imports them.',
      from: { path: '^packages/' },
      to: { path: '^(services|tools)/' },
    },
    {
      name: 'services-below-tools',
      severity: 'error',
      comment: 'Services run without the CLI or the benchmark.',
      from: { path: '^services/' },
      to: { path: '^tools/' },
    },
    {
      name: 'service-calls-not-imports-another',
      severity: 'error',
      comment: "A service's code never imports another service's source: it calls its API. (Tests may boot other services.)",
      from: { path: '^services/([^/]+)/src/' },
      to: { path: '^services/', pathNot: '^services/$1/' },
    },
    {
      name: 'dev-only-stays-out-of-runtime',
      severity: 'error',
      comment: 'devkit (dev issuer, embedded PostgreSQL, provisioning) and testkit are never installed in a service image.',
      from: { path: '^(services/[^/]+/src/|packages/(core|auth|database|server-kit)/src/)' },
      to: { path: '^packages/(devkit|testkit)/' },
    },
    {
      name: 'resolvers-import-no-resolvers',
      severity: 'error',
      comment: 'Resolvers are thin; what two entity folders share (types, rowTo… mappers) lives in <entity>.ts.',
      from: { path: '[.]resolvers[.]ts$' },
      to: { path: '[.]resolvers[.]ts$' },
    },
    {
      name: 'repositories-are-sql-only',
      severity: 'error',
      comment: 'A repository runs SQL; rules (services) and GraphQL (resolvers) sit above it.',
      from: { path: '[.]repository[.]ts$' },
      to: { path: '[.](service|resolvers)[.]ts$' },
    },
  ],
  options: {
    includeOnly: '^(packages|services|tools|supergraph)/',
    exclude: { path: '/node_modules/' },
    // Workspace packages are linked under node_modules: follow the links to their source.
    preserveSymlinks: false,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'default'],
      extensions: ['.ts', '.js', '.mjs'],
    },
    tsPreCompilationDeps: true,
  },
};
