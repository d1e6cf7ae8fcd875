import { errorLabel } from './sdc.metrics';

describe('errorLabel: a failed cycle counted by its error code, never by its message', () => {
  it.each<[string | null, string]>([
    ['mdc_unreachable', 'mdc_unreachable'],
    ['store_unavailable', 'store_unavailable'],
    ['mdc_failed: the MDC answered 500', 'mdc_failed'],
    ['changes_lost: DomainDB lost seqs 6 to 15 of epoch e1, …', 'changes_lost'],
    ['the MDC refused seq 5 as a gap (it expects 3)', 'other'],
    ['Error: boom', 'other'],
    ['', 'other'],
    [null, 'other'],
  ])('%j → %s', (error, label) => {
    expect(errorLabel(error)).toBe(label);
  });
});
