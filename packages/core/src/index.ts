export * from './access.ts';
export * from './errors.ts';
export * from './ids.ts';
export * from './logger.ts';
export * from './pagination.ts';
export * from './registry.ts';
export * from './viewer.ts';
