export type GraphQLResponse<T = any> = {
  status: number;
  headers: Headers;
  body: { data?: T; errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string } }[] };
};

/**
 * Posts a GraphQL operation over real HTTP.
 * @example const { body } = await graphql(url, { token, query: '{ tenant { id } }' })
 */
export async function graphql<T = any>(
  url: string,
  request: { query: string; variables?: Record<string, unknown>; token?: string; headers?: Record<string, string> },
): Promise<GraphQLResponse<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(request.token ? { authorization: `Bearer ${request.token}` } : {}),
      ...request.headers,
    },
    body: JSON.stringify({ query: request.query, variables: request.variables }),
  });
  const text = await response.text();
  let body: GraphQLResponse<T>['body'];
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`not JSON (${response.status}): ${text.slice(0, 200)}`);
  }
  return { status: response.status, headers: response.headers, body };
}

/** The error codes of a response, in order. */
export const codes = (response: GraphQLResponse) => (response.body.errors ?? []).map((error) => error.extensions?.code);
