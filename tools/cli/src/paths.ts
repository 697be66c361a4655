import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Local state of `pnpm start`: PostgreSQL data, the development issuer's key, secrets. */
export const DATA_DIR = `${ROOT}.data`;
