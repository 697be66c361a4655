import { createRequire } from 'node:module';
import { appError } from '@tenantgraph/core';
import type { GraphQLFormattedError, ValidationRule } from 'graphql';
import { describe, expect, it } from 'vitest';
import { maskError } from './errors.ts';
import { createExecutor, type ExecutorOptions } from './executor.ts';
import type { HttpGraphQLRequest } from './http.ts';

// The executor runs graphql's CommonJS build, as @apollo/subgraph's schemas are built with it.
const { buildSchema } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

const schema = buildSchema(`
  type Query { greeting(name: String!): String! secret: String! broken: String }
`);
type Context = { calls: string[] };
const root = {
  greeting: ({ name }: { name: string }, context: Context) => {
    context.calls.push('greeting');
    return `hello ${name}`;
  },
  secret: () => 'kept',
  broken: () => {
    throw new Error('connection refused at 10.0.0.7');
  },
};
for (const [field, resolve] of Object.entries(root)) {
  const definition = schema.getQueryType()!.getFields()[field]!;
  definition.resolve = (_source, args, context) => (resolve as (a: unknown, c: unknown) => unknown)(args, context);
}

/** An executor whose validation counts the documents it sees. */
function executor(options: Partial<ExecutorOptions<Context>> = {}) {
  const validated: string[] = [];
  const counting: ValidationRule = (context) => {
    validated.push(context.getDocument().loc?.source.body ?? '');
    return {};
  };
  const errors: unknown[] = [];
  const answers: (string | undefined)[] = [];
  const execute = createExecutor<Context>({
    schema,
    validationRules: [counting],
    formatError: maskError,
    onErrors: (list) => errors.push(...list.map((error) => error.originalError ?? error)),
    onAnswer: (code) => answers.push(code),
    ...options,
  });
  const run = async (body: unknown, init: Partial<HttpGraphQLRequest> = {}) => {
    const context: Context = { calls: [] };
    const request = { method: 'POST', search: '', headers: { 'content-type': 'application/json' }, body, ...init };
    const response = await execute(request, context);
    return {
      status: response.status,
      headers: Object.fromEntries(response.headers ?? []),
      body: JSON.parse(response.body as string) as { data?: Record<string, unknown> | null; errors?: GraphQLFormattedError[] },
      calls: context.calls,
    };
  };
  return { run, validated, errors, answers };
}

const codes = (body: { errors?: GraphQLFormattedError[] }) => body.errors?.map((error) => error.extensions?.code);

describe('a subgraph executor', () => {
  it('parses and validates each distinct document once, and executes it every time', async () => {
    const { run, validated, answers } = executor();
    const query = 'query Greet($name: String!) { greeting(name: $name) }';
    for (const name of ['avocado', 'mango', 'kiwi']) {
      const { status, body } = await run({ query, variables: { name } });
      expect(status).toBe(200);
      expect(body).toEqual({ data: { greeting: `hello ${name}` } });
    }
    expect(validated).toEqual([query]);
    expect(answers).toEqual([undefined, undefined, undefined]);
  });

  it('keeps at most documentCacheSize documents, the least recently used dropped first', async () => {
    const { run, validated } = executor({ documentCacheSize: 2 });
    const [a, b, c] = ['{ secret }', '{ a: secret }', '{ b: secret }'];
    for (const query of [a, b, a, c, a, b]) expect((await run({ query })).status).toBe(200);
    // c evicts b (a was used more recently); b comes back and evicts c.
    expect(validated).toEqual([a, b, c, b]);
  });

  it('keeps at most documentCacheChars of query text, and never caches a query over a tenth of it', async () => {
    const { run, validated } = executor({ documentCacheChars: 100 });
    // Eleven queries of 10 characters: the eleventh evicts the first, the least recently used.
    const queries = 'abcdefghijk'.split('').map((alias) => `{${alias}:secret}`);
    for (const query of [...queries, queries[0]!, queries[10]!]) expect((await run({ query })).status).toBe(200);
    expect(validated).toEqual([...queries, queries[0]]);
    // 13 characters, over a tenth of 100: parsed and validated every time.
    const large = '{ l: secret }';
    for (let i = 0; i < 2; i++) expect((await run({ query: large })).status).toBe(200);
    expect(validated.filter((query) => query === large)).toHaveLength(2);
  });

  it('refuses a document that does not parse or validate with 400, without the schema’s suggestions', async () => {
    const { run } = executor();
    const unparsed = await run({ query: '{ greeting(' });
    expect(unparsed.status).toBe(400);
    expect(codes(unparsed.body)).toEqual(['GRAPHQL_PARSE_FAILED']);
    const invalid = await run({ query: '{ secrte }' });
    expect(invalid.status).toBe(400);
    expect(codes(invalid.body)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(invalid.body.errors?.[0]?.message).toBe('Cannot query field "secrte" on type "Query".');
  });

  it('refuses introspection, and answers __typename', async () => {
    const { run } = executor();
    const response = await run({ query: '{ __schema { types { name } } __type(name: "Query") { name } }' });
    expect(response.status).toBe(400);
    expect(codes(response.body)).toEqual(['GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_VALIDATION_FAILED']);
    expect(response.body.errors?.[0]?.message).toMatch(/introspection/);
    expect(response.body.data).toBeUndefined();
    expect((await run({ query: '{ __typename }' })).body).toEqual({ data: { __typename: 'Query' } });
  });

  it('answers POST with JSON only: another method is 405, another content type 400', async () => {
    const { run } = executor();
    const get = await run({ query: '{ secret }' }, { method: 'GET', search: '?query=%7Bsecret%7D' });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    const form = await run({ query: '{ secret }' }, { headers: { 'content-type': 'text/plain' } });
    expect(form.status).toBe(400);
    expect(codes(form.body)).toEqual(['BAD_REQUEST']);
    for (const body of [{}, { query: '' }, { query: '{ secret }', variables: [1] }, { query: '{ secret }', operationName: 7 }]) {
      const response = await run(body);
      expect(response.status).toBe(400);
      expect(codes(response.body)).toEqual(['BAD_REQUEST']);
    }
  });

  it('refuses variables of the wrong type with 400 BAD_USER_INPUT, running nothing', async () => {
    const { run } = executor();
    const response = await run({ query: 'query($name: String!) { greeting(name: $name) }', variables: { name: 7 } });
    expect(response.status).toBe(400);
    expect(codes(response.body)).toEqual(['BAD_USER_INPUT']);
    expect(response.calls).toEqual([]);
  });

  it('picks the named operation, and refuses an unknown or missing name', async () => {
    const { run } = executor();
    const query = 'query A { secret } query B { greeting(name: "b") }';
    expect((await run({ query, operationName: 'B' })).body.data).toEqual({ greeting: 'hello b' });
    for (const operationName of ['C', undefined]) {
      const response = await run({ query, operationName });
      expect(response.status).toBe(400);
      expect(codes(response.body)).toEqual(['OPERATION_RESOLUTION_FAILURE']);
    }
  });

  it('runs its checks before execution: a refusal answers with its code and status, and no resolver runs', async () => {
    const { run } = executor({
      checks: [
        ({ operation }) => {
          if (JSON.stringify(operation).includes('"greeting"')) throw appError('FORBIDDEN', 'Not for you.');
        },
      ],
    });
    const refused = await run({ query: '{ greeting(name: "x") }' });
    expect(refused.status).toBe(200);
    expect(refused.body).toEqual({ errors: [{ message: 'Not for you.', extensions: { code: 'FORBIDDEN' } }] });
    expect(refused.calls).toEqual([]);
    expect((await run({ query: '{ secret }' })).body).toEqual({ data: { secret: 'kept' } });
  });

  it('masks an unexpected error for the client and hands the original to onErrors', async () => {
    const { run, errors, answers } = executor();
    const response = await run({ query: '{ secret broken }' });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      data: { secret: 'kept', broken: null },
      errors: [{ message: 'Internal server error', path: ['broken'], extensions: { code: 'INTERNAL_SERVER_ERROR' } }],
    });
    expect(JSON.stringify(response.body)).not.toContain('10.0.0.7');
    expect((errors[0] as Error).message).toBe('connection refused at 10.0.0.7');
    expect(answers).toEqual(['INTERNAL_SERVER_ERROR']);
  });
});
