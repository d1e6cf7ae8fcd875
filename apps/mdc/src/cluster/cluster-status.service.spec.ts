import { isStale, staleAfterMs } from './cluster-status.service';

const NOW = Date.parse('2026-01-01T00:01:00.000Z');
const ago = (ms: number) => new Date(NOW - ms).toISOString();

describe('staleness in /cluster/status (SPEC §8, §10)', () => {
  it('allows two sync intervals and five seconds of slack', () => {
    expect(staleAfterMs(20_000)).toBe(45_000);
    expect(staleAfterMs(1000)).toBe(7000);
  });

  it('never calls the master site stale', () => {
    expect(isStale('master', undefined, NOW, 7000)).toBe(false);
  });

  it('calls a work site that never contacted the MDC stale', () => {
    expect(isStale('site', undefined, NOW, 7000)).toBe(true);
    expect(isStale('site', { lastPushAt: null, lastPullAt: null }, NOW, 7000)).toBe(true);
  });

  it('judges a work site by its latest push or pull', () => {
    expect(isStale('site', { lastPushAt: ago(60_000), lastPullAt: ago(1000) }, NOW, 7000)).toBe(false);
    expect(isStale('site', { lastPushAt: ago(1000), lastPullAt: ago(60_000) }, NOW, 7000)).toBe(false);
    expect(isStale('site', { lastPushAt: null, lastPullAt: ago(7001) }, NOW, 7000)).toBe(true);
    expect(isStale('site', { lastPushAt: ago(8000), lastPullAt: ago(9000) }, NOW, 7000)).toBe(true);
  });
});
