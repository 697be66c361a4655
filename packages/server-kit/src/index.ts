export * from './environment.ts';
export * from './errors.ts';
export * from './http.ts';
export * from './loaders.ts';
export * from './metrics.ts';
export * from './run.ts';
export * from './subgraph.ts';
export * from './deps.ts';
