import { describe, expect, it } from 'vitest';
import { errorCode } from './errors.ts';
import { cachedRegistry, type TenantRecord } from './registry.ts';

const AVOCADO: TenantRecord = { id: 'avocado', slug: 'avocado', name: 'Avocado Inc', plan: 'PRO', placement: 'shared', status: 'active' };

/** A registry endpoint that can be taken down: loads fail while `down`. */
function source() {
  const state = { down: false, loads: 0 };
  const load = async () => {
    state.loads++;
    if (state.down) throw new Error('registry unreachable');
    return [AVOCADO];
  };
  return { state, load };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function outcome(registry: ReturnType<typeof cachedRegistry>, id = 'avocado') {
  try {
    return (await registry.get(id))?.id ?? 'unknown';
  } catch (error) {
    return errorCode(error) ?? String(error);
  }
}

describe('the cached registry', () => {
  it('keeps serving its last list through a registry outage shorter than the max staleness', async () => {
    const { state, load } = source();
    const registry = cachedRegistry(load, { ttlMs: 20, missRefreshMs: 10, maxStaleMs: 60_000 });
    expect(await outcome(registry)).toBe('avocado');
    state.down = true;
    await sleep(50);
    expect(await outcome(registry)).toBe('avocado');
    expect(state.loads).toBeGreaterThan(1);
  });

  it('answers SERVICE_UNAVAILABLE for every tenant once its list is older than the max staleness, and recovers with the registry', async () => {
    const { state, load } = source();
    const registry = cachedRegistry(load, { ttlMs: 20, missRefreshMs: 10, maxStaleMs: 200 });
    expect(await outcome(registry)).toBe('avocado');
    state.down = true;
    // Polled, not timed: the moment the last list passes 200 ms it must stop answering.
    const deadline = Date.now() + 10_000;
    let last = await outcome(registry);
    while (last === 'avocado' && Date.now() < deadline) {
      await sleep(20);
      last = await outcome(registry);
    }
    expect(last).toBe('SERVICE_UNAVAILABLE');
    expect(await outcome(registry, 'mango')).toBe('SERVICE_UNAVAILABLE');
    state.down = false;
    await sleep(30);
    expect(await outcome(registry)).toBe('avocado');
  });
});
