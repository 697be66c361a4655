import { createRequire } from 'node:module';

// @apollo/federation-internals is CommonJS and builds schemas with graphql's CommonJS build.
// An ESM import of graphql (or of graphql-inspector, whose ESM build imports graphql's .mjs)
// can load the second, .mjs copy of graphql, which then rejects those schema objects as
// "from another module or realm" (it does under vitest). Loading graphql and the inspector
// through require keeps every schema object in the one CommonJS graphql.
const require = createRequire(import.meta.url);

export const graphql = require('graphql') as typeof import('graphql');
export const inspector = require('@graphql-inspector/core') as typeof import('@graphql-inspector/core');
