import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type GitRunner, loadCheckInput, parseCheckArgs, resolveBaseApiSchema } from '../src/check-inputs.ts';
import { checkSupergraph, parseAcceptedBreakingChanges } from '../src/check-lib.ts';
import { renderReport } from '../src/check-report.ts';
import { composeSubgraphs } from '../src/compose-lib.ts';
import { catalogSubgraph, committedState, inputFor, tenantSubgraph } from './fixtures.ts';

const noGit: GitRunner = () => undefined;

describe('composition', () => {
  it('fails a field typed differently in two subgraphs, naming both subgraphs, the type and the field', async () => {
    const subgraphs = [tenantSubgraph('plan: String @shareable'), catalogSubgraph({ tenantFields: 'plan: Int @shareable' })];
    const report = await checkSupergraph({ subgraphs, base: { label: 'none', apiSchemaSdl: undefined }, accepted: [] });

    expect(report.ok).toBe(false);
    const [error] = report.composition.errors;
    expect(error).toMatchObject({ code: 'FIELD_TYPE_MISMATCH', subgraphs: ['tenant', 'catalog'], coordinate: 'Tenant.plan' });
    expect(error?.fix).toMatch(/same type/);
    expect(report.breaking.skipped).toBe('composition failed');
  });

  it('fails a non-shareable field defined in two subgraphs and says how to share or move it', () => {
    const outcome = composeSubgraphs([tenantSubgraph(), catalogSubgraph({ tenantFields: 'name: String!' })]);

    expect(outcome.ok).toBe(false);
    const error = outcome.ok ? undefined : outcome.errors[0];
    expect(error).toMatchObject({ code: 'INVALID_FIELD_SHARING', subgraphs: ['tenant', 'catalog'], coordinate: 'Tenant.name' });
    expect(error?.fix).toMatch(/@shareable/);
  });

  it('reports an SDL syntax error with the subgraph and line', () => {
    const broken = { ...catalogSubgraph(), sdl: 'type Query {\n  oops(: Int\n}' };
    const outcome = composeSubgraphs([tenantSubgraph(), broken]);

    expect(outcome.ok).toBe(false);
    expect(outcome.ok ? undefined : outcome.errors[0]).toMatchObject({
      code: 'INVALID_GRAPHQL',
      subgraphs: ['catalog'],
      locations: ['catalog:2'],
    });
  });

  it('produces an API schema without federation internals', () => {
    const { apiSchemaSdl, supergraphSdl } = committedState([tenantSubgraph(), catalogSubgraph()]);

    expect(supergraphSdl).toContain('@join__type');
    expect(apiSchemaSdl).not.toMatch(/join__|@link|@key/);
    expect(apiSchemaSdl).toContain('products(first: Int = 20): [Product!]!');
  });
});

describe('access policy', () => {
  const withMutation = (directive: string) => {
    const catalog = catalogSubgraph();
    const sdl = catalog.sdl
      .replace('import: ["@key", "@shareable"]', 'import: ["@key", "@shareable", "@requiresScopes", "@authenticated"]')
      .concat(
        `type Mutation {\n  createProduct(sku: String!): Product! ${directive}\n  archiveProduct(id: ID!): Product! @authenticated\n}\n`,
      );
    return [tenantSubgraph(), { ...catalog, sdl }];
  };

  it('fails a mutation that does not say who may call it, naming the mutation and its subgraph', async () => {
    const subgraphs = withMutation('');
    const report = await checkSupergraph({ subgraphs, base: { label: 'none', apiSchemaSdl: undefined }, accepted: [] });

    expect(report.ok).toBe(false);
    expect(report.composition.errors).toEqual([
      expect.objectContaining({ code: 'MUTATION_WITHOUT_POLICY', coordinate: 'Mutation.createProduct', subgraphs: ['catalog'] }),
    ]);
    const rendered = renderReport(report, { subgraphs: ['tenant', 'catalog'] });
    expect(rendered).toMatch(/MUTATION_WITHOUT_POLICY[\s\S]*fix: declare who may call it/);
  });

  it('passes once every mutation has @requiresScopes or @authenticated', async () => {
    const subgraphs = withMutation('@requiresScopes(scopes: [["products:write"]])');
    const report = await checkSupergraph({ subgraphs, base: { label: 'none', apiSchemaSdl: undefined }, accepted: [] });

    expect(report.composition).toMatchObject({ ok: true, errors: [] });
    expect(report.ok).toBe(true);
  });
});

describe('breaking changes', () => {
  const base = [tenantSubgraph(), catalogSubgraph()];

  it('fails a removed field as breaking', async () => {
    const report = await checkSupergraph(inputFor(base, [tenantSubgraph(), catalogSubgraph({ productFields: 'name: String!' })]));

    expect(report.ok).toBe(false);
    expect(report.drift.ok).toBe(true);
    expect(report.breaking.breaking).toEqual([expect.objectContaining({ path: 'Product.sku', type: 'FIELD_REMOVED' })]);
  });

  it('fails an argument made required as breaking', async () => {
    const report = await checkSupergraph(inputFor(base, [tenantSubgraph(), catalogSubgraph({ productsArgs: '(first: Int!)' })]));

    expect(report.ok).toBe(false);
    expect(report.breaking.breaking.map((change) => change.path)).toContain('Tenant.products.first');
  });

  it('fails a required argument added to an existing field', async () => {
    const report = await checkSupergraph(
      inputFor(base, [tenantSubgraph(), catalogSubgraph({ productsArgs: '(first: Int = 20, category: String!)' })]),
    );

    expect(report.breaking.breaking).toEqual([expect.objectContaining({ path: 'Tenant.products.category', type: 'FIELD_ARGUMENT_ADDED' })]);
  });

  it('passes an added optional field once it is composed, with no drift', async () => {
    const report = await checkSupergraph(inputFor(base, [tenantSubgraph('slug: String'), catalogSubgraph()]));

    expect(report.ok).toBe(true);
    expect(report.drift).toEqual({ ok: true, files: [] });
    expect(report.breaking.safe).toEqual([expect.objectContaining({ path: 'Tenant.slug', type: 'FIELD_ADDED' })]);
  });

  it('lets a breaking change listed in the accepted file pass and still fails an unlisted one', async () => {
    const changed = [tenantSubgraph(), catalogSubgraph({ productFields: 'id2: ID', productsArgs: '(first: Int!)' })];
    const accepted = parseAcceptedBreakingChanges([
      { path: 'Product.sku', type: 'FIELD_REMOVED', reason: 'sku moved to inventory; reviewed by @catalog-leads' },
      { path: 'Product.name', reason: 'renamed; reviewed by @catalog-leads' },
      { path: 'Query.gone', reason: 'stale entry' },
    ]);

    const report = await checkSupergraph(inputFor(base, changed, accepted));

    expect(report.ok).toBe(false);
    expect(report.breaking.accepted.map((change) => change.path).sort()).toEqual(['Product.name', 'Product.sku']);
    expect(report.breaking.breaking.map((change) => change.path)).toEqual(['Tenant.products.first']);
    expect(report.breaking.unusedAccepted.map((entry) => entry.path)).toEqual(['Query.gone']);
  });

  it('passes once every breaking change is accepted', async () => {
    const accepted = [{ path: 'Product.sku', reason: 'reviewed by @catalog-leads' }];
    const report = await checkSupergraph(inputFor(base, [tenantSubgraph(), catalogSubgraph({ productFields: 'name: String!' })], accepted));

    expect(report.ok).toBe(true);
  });

  it('does not accept an entry whose type does not match the change', async () => {
    const accepted = [{ path: 'Product.sku', type: 'FIELD_TYPE_CHANGED', reason: 'only a retype was reviewed' }];
    const report = await checkSupergraph(inputFor(base, [tenantSubgraph(), catalogSubgraph({ productFields: 'name: String!' })], accepted));

    expect(report.ok).toBe(false);
  });

  it('rejects an accepted entry without a reason', () => {
    expect(() => parseAcceptedBreakingChanges([{ path: 'Product.sku' }])).toThrow(/reason/);
  });
});

describe('drift', () => {
  it('detects committed files that differ from a fresh composition and tells how to fix it', async () => {
    const stale = [tenantSubgraph(), catalogSubgraph()];
    const current = [tenantSubgraph('slug: String'), catalogSubgraph()];
    const committed = committedState(stale);
    const report = await checkSupergraph({
      subgraphs: current,
      committed,
      base: { label: 'fixture base', apiSchemaSdl: committed.apiSchemaSdl },
      accepted: [],
    });

    expect(report.ok).toBe(false);
    expect(report.drift.files.map((file) => file.file)).toEqual(['supergraph.graphql', 'api-schema.graphql']);
    expect(report.drift.files[1]?.excerpt).toContain('+   slug: String');
    expect(renderReport(report, { subgraphs: ['tenant', 'catalog'] })).toContain('npx pnpm@10 supergraph:compose');
  });

  it('treats a missing committed file as drift', async () => {
    const subgraphs = [tenantSubgraph(), catalogSubgraph()];
    const { apiSchemaSdl } = committedState(subgraphs);
    const report = await checkSupergraph({
      subgraphs,
      committed: { supergraphSdl: undefined, apiSchemaSdl },
      base: { label: 'fixture base', apiSchemaSdl },
      accepted: [],
    });

    expect(report.drift.files).toEqual([{ file: 'supergraph.graphql', status: 'missing', excerpt: [] }]);
  });
});

describe('loading inputs from a repository folder', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  async function repository(): Promise<{ supergraphDir: string; configFile: string; acceptedFile: string; cwd: string }> {
    dir = await mkdtemp(join(tmpdir(), 'supergraph-check-'));
    const tenant = tenantSubgraph();
    const catalog = catalogSubgraph();
    await writeFile(join(dir, 'tenant.graphql'), tenant.sdl);
    await writeFile(join(dir, 'catalog.graphql'), catalog.sdl);
    const { supergraphSdl, apiSchemaSdl } = committedState([tenant, catalog]);
    await writeFile(join(dir, 'supergraph.graphql'), supergraphSdl);
    await writeFile(join(dir, 'api-schema.graphql'), apiSchemaSdl);
    await writeFile(join(dir, 'accepted-breaking-changes.json'), '[]\n');
    await writeFile(
      join(dir, 'supergraph.yaml'),
      [
        'federation_version: =2.14.4',
        'subgraphs:',
        '  tenant:',
        '    routing_url: http://localhost:4001/graphql',
        '    schema:',
        '      file: ./tenant.graphql',
        '  catalog:',
        '    routing_url: http://localhost:4002/graphql',
        '    schema:',
        '      file: ./catalog.graphql',
        '',
      ].join('\n'),
    );
    return {
      supergraphDir: dir,
      configFile: join(dir, 'supergraph.yaml'),
      acceptedFile: join(dir, 'accepted-breaking-changes.json'),
      cwd: dir,
    };
  }

  it('passes the committed state without git, using the committed API schema as base', async () => {
    const paths = await repository();
    const input = await loadCheckInput(paths, { json: false }, noGit);
    const report = await checkSupergraph(input);

    expect(input.base.label).toBe('committed api-schema.graphql');
    expect(report.ok).toBe(true);
  });

  it('checks a per-subgraph proposal for composition and breaking changes without a drift check', async () => {
    const paths = await repository();
    await writeFile(join(paths.cwd, 'proposal.graphql'), catalogSubgraph({ productFields: 'name: String!\n  stock: Int' }).sdl);

    const input = await loadCheckInput(paths, parseCheckArgs(['--subgraph', 'catalog', '--schema', 'proposal.graphql']), noGit);
    const report = await checkSupergraph(input);

    expect(input.committed).toBeUndefined();
    expect(report.drift.skipped).toMatch(/proposal/);
    expect(report.ok).toBe(false);
    expect(report.breaking.breaking.map((change) => change.path)).toEqual(['Product.sku']);
    expect(report.breaking.safe.map((change) => change.path)).toEqual(['Product.stock']);
  });

  it('fails a proposal for a subgraph that supergraph.yaml does not list', async () => {
    const paths = await repository();
    const input = await loadCheckInput(paths, { json: false, proposal: { subgraph: 'billing', schemaFile: 'x.graphql' } }, noGit);
    const report = await checkSupergraph(input);

    expect(report.composition.errors[0]).toMatchObject({ code: 'UNKNOWN_SUBGRAPH', subgraphs: ['billing'] });
  });
});

describe('choosing the base API schema', () => {
  function fakeGit(files: Record<string, string>, mergeBase: string | undefined): GitRunner {
    return (args) => {
      if (args[0] === 'rev-parse') return 'supergraph/\n';
      if (args[0] === 'merge-base') return mergeBase ? `${mergeBase}\n` : undefined;
      if (args[0] === 'show') return files[args[1]!];
      return undefined;
    };
  }

  it('reads the API schema at the merge base of HEAD and main', async () => {
    const git = fakeGit({ 'abc123456789:supergraph/api-schema.graphql': 'type Query { a: Int }' }, 'abc123456789');
    const base = await resolveBaseApiSchema('/nowhere', undefined, git);

    expect(base).toEqual({ label: 'api-schema.graphql at merge base abc12345 of HEAD and main', apiSchemaSdl: 'type Query { a: Int }' });
  });

  it('falls back to the committed file when the base did not have one yet', async () => {
    const git = fakeGit({ 'HEAD:supergraph/api-schema.graphql': 'type Query { b: Int }' }, 'abc123456789');
    const base = await resolveBaseApiSchema('/nowhere', undefined, git);

    expect(base.apiSchemaSdl).toBe('type Query { b: Int }');
  });

  it('refuses an explicit base that has no merge base with HEAD', async () => {
    await expect(resolveBaseApiSchema('/nowhere', 'origin/main', fakeGit({}, undefined))).rejects.toThrow(/fetch-depth: 0/);
  });
});

describe('command line', () => {
  it('requires --subgraph and --schema together', () => {
    expect(() => parseCheckArgs(['--subgraph', 'order'])).toThrow(/go together/);
    expect(parseCheckArgs(['--base', 'origin/main', '--json'])).toEqual({ base: 'origin/main', json: true });
  });
});
