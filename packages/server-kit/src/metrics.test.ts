import { describe, expect, it } from 'vitest';
import { boundedLabel, createMetrics, OTHER } from './metrics.ts';

describe('boundedLabel', () => {
  it('keeps the first values up to the limit and counts the rest as other', () => {
    const label = boundedLabel(2);
    expect(['a', 'b', 'c', 'a', 'c'].map(label)).toEqual(['a', 'b', OTHER, 'a', OTHER]);
  });

  it('gives a value its own series once it has had twice the traffic of the least used kept one', () => {
    const demoted: string[] = [];
    const label = boundedLabel(1, (value) => demoted.push(value));
    expect(label('quiet')).toBe('quiet');
    expect([label('busy'), label('busy')]).toEqual([OTHER, OTHER]);
    expect(label('busy')).toBe('busy');
    expect(demoted).toEqual(['quiet']);
    expect(label('quiet')).toBe(OTHER);
  });
});

describe('createMetrics', () => {
  it('removes the series of a tenant that lost its place', async () => {
    const metrics = createMetrics('test', { maxTenants: 1 });
    const served = (tenantId: string) => metrics.observeRequest({ requestId: 'r', start: 0, tenantId }, 200, 0.01);
    served('quiet');
    for (let i = 0; i < 3; i++) served('busy');
    await new Promise((resolve) => setTimeout(resolve, 10));
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/graphql_request_duration_seconds_count\{[^}]*tenant="busy"[^}]*\} 1/);
    expect(text).toMatch(/graphql_request_duration_seconds_count\{[^}]*tenant="other"[^}]*\} 2/);
    expect(text).not.toContain('tenant="quiet"');
  });
});
