import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Resolved from this file, not the cwd: the root scripts and the workspace scripts run from different folders.
export const SUPERGRAPH_DIR = fileURLToPath(new URL('..', import.meta.url));
export const CONFIG_FILE = join(SUPERGRAPH_DIR, 'supergraph.yaml');
export const ACCEPTED_FILE = join(SUPERGRAPH_DIR, 'accepted-breaking-changes.json');
