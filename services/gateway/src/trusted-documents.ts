import { readFile } from 'node:fs/promises';
import { appError } from '@tenantgraph/core';
import type { GraphQLRequestParts } from '@tenantgraph/server-kit';

/** Trusted documents by id: the operations the frontends shipped. */
export type TrustedDocuments = ReadonlyMap<string, string>;

/**
 * Reads a manifest in either format clients' build tools write: Apollo's persisted query
 * manifest (`{ format: "apollo-persisted-query-manifest", operations: [{ id, body }] }`) or a
 * flat `{ "<id>": "<document>" }` map (Hive, GraphQL Codegen's client preset).
 */
export function parseTrustedDocuments(json: unknown): TrustedDocuments {
  const documents = new Map<string, string>();
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('a manifest is a JSON object');
  const manifest = json as Record<string, unknown>;
  if (manifest.format === 'apollo-persisted-query-manifest') {
    if (!Array.isArray(manifest.operations)) throw new Error('an Apollo manifest needs "operations"');
    for (const [index, operation] of manifest.operations.entries()) {
      const { id, body } = (operation ?? {}) as { id?: unknown; body?: unknown };
      if (typeof id !== 'string' || typeof body !== 'string') throw new Error(`operations[${index}] needs a string "id" and "body"`);
      documents.set(id, body);
    }
    return documents;
  }
  for (const [id, document] of Object.entries(manifest)) {
    if (typeof document !== 'string') throw new Error(`"${id}" must map to a document (a string)`);
    documents.set(id, document);
  }
  return documents;
}

/** Loads a manifest from a file path or an http(s) URL, once, at start. */
export async function loadTrustedDocuments(source: string): Promise<TrustedDocuments> {
  let text: string;
  if (/^https?:\/\//.test(source)) {
    const response = await fetch(source, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`trusted documents: GET ${source} answered ${response.status}`);
    text = await response.text();
  } else {
    text = await readFile(source, 'utf8');
  }
  try {
    return parseTrustedDocuments(JSON.parse(text));
  } catch (error) {
    throw new Error(`trusted documents: ${source}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

type Params = {
  query?: unknown;
  documentId?: unknown;
  extensions?: { persistedQuery?: { sha256Hash?: unknown } } & Record<string, unknown>;
};

/**
 * Puts the trusted document in place of an id, before anything is parsed. A request may name
 * one by `documentId` or by `extensions.persistedQuery.sha256Hash`. A listed id always means
 * its listed document: a request that sends other text with it is refused. With `only`, any
 * request without a listed id is refused (PERSISTED_QUERY_NOT_IN_LIST), automatic persisted
 * queries included; without it, a hash the list does not know goes on to Apollo's APQ.
 */
export function trustedDocumentsStep(documents: TrustedDocuments, only: boolean) {
  return (request: GraphQLRequestParts): GraphQLRequestParts => {
    if (request.method === 'GET') {
      const search = new URLSearchParams(request.search);
      const extensions = search.get('extensions');
      const params = resolve(documents, only, {
        query: search.get('query') ?? undefined,
        documentId: search.get('documentId') ?? undefined,
        extensions: extensions ? parseJson(extensions) : undefined,
      });
      if (params === undefined) return request;
      search.delete('documentId');
      search.set('query', params.query as string);
      if (params.extensions) search.set('extensions', JSON.stringify(params.extensions));
      else search.delete('extensions');
      return { ...request, search: `?${search}` };
    }
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return only ? refuse(NOT_TRUSTED) : request;
    const params = resolve(documents, only, body as Params);
    return params === undefined ? request : { ...request, body: params };
  };
}

const NOT_TRUSTED = 'Only trusted documents are accepted: send the documentId (or extensions.persistedQuery) of a listed operation.';

/** The request with the trusted document in place, or undefined to pass it on as it is. */
function resolve(documents: TrustedDocuments, only: boolean, params: Params): Params | undefined {
  const hash = params.extensions?.persistedQuery?.sha256Hash;
  const id = params.documentId ?? hash;
  if (id === undefined) return only ? refuse(NOT_TRUSTED) : undefined;
  const document = typeof id === 'string' ? documents.get(id) : undefined;
  if (document === undefined) {
    if (only || params.documentId !== undefined) return refuse(`No trusted document has the id ${JSON.stringify(id)}.`);
    return undefined;
  }
  if (params.query !== undefined && params.query !== document) {
    return refuse(`The id ${JSON.stringify(id)} names a trusted document; it cannot be sent with other text.`);
  }
  // APQ must not see the id: it would cache the document under it, or check the hash of a Hive id.
  const { persistedQuery: _, ...extensions } = params.extensions ?? {};
  const { documentId: __, extensions: ___, ...rest } = params;
  return { ...rest, query: document, ...(Object.keys(extensions).length > 0 ? { extensions } : {}) };
}

function parseJson(text: string): Params['extensions'] {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function refuse(message: string): never {
  throw appError('PERSISTED_QUERY_NOT_IN_LIST', message);
}
