// Development-only: `pnpm start`, `pnpm token`, `pnpm tenant`, the benchmark and the tests use these;
// no service imports them, so a service image (installed with --prod) never carries them.
export * from './embedded.ts';
export * from './issuer.ts';
export * from './provision.ts';
