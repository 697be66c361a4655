// The explorer page's script: GraphiQL plus a field for the bearer token. explorer/build.mjs
// bundles it (with React, GraphiQL and their CSS) into dist/; the gateway serves those files.
import { GraphiQL } from 'graphiql';
import { createElement as h, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import 'graphiql/style.css';
import './explorer.css';

const TOKEN_KEY = 'tenantgraph.explorer.token';
// Same origin as the page: the gateway that served it.
const ENDPOINT = window.location.pathname;

function Explorer() {
  const [token, setToken] = useState(() => sessionStorage.getItem(TOKEN_KEY) ?? '');
  // A new fetcher per token: GraphiQL then loads the schema again, now that it may.
  const fetcher = useMemo(
    () =>
      async function fetchGraphQL(params, options) {
        const bearer = token.trim().replace(/^Bearer\s+/i, '');
        const response = await fetch(ENDPOINT, {
          method: 'POST',
          // application/json makes the request non-simple, which is what the CSRF check asks.
          headers: {
            'content-type': 'application/json',
            accept: 'application/graphql-response+json, application/json',
            ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
            ...options?.headers,
          },
          body: JSON.stringify(params),
        });
        return response.json();
      },
    [token],
  );
  const onToken = (event) => {
    setToken(event.target.value);
    sessionStorage.setItem(TOKEN_KEY, event.target.value);
  };
  return h(
    'div',
    { className: 'tg-explorer' },
    h(
      'header',
      { className: 'tg-bar' },
      h('strong', null, 'tenantgraph'),
      h(
        'label',
        { htmlFor: 'tg-token' },
        'Bearer token',
        h('input', {
          id: 'tg-token',
          name: 'token',
          type: 'password',
          autoComplete: 'off',
          spellCheck: false,
          placeholder: 'npx pnpm@10 token --tenant avocado',
          value: token,
          onChange: onToken,
        }),
      ),
    ),
    h('main', { className: 'tg-graphiql' }, h(GraphiQL, { fetcher, defaultQuery: '{ tenant { name } }' })),
  );
}

createRoot(document.getElementById('explorer')).render(h(Explorer));
