import { SiteLogCheck, whyNotSiteLogLine } from './log-lines';

describe('the check of a site log (SPEC §10: JSON only, each line naming the site)', () => {
  it('takes a JSON object naming the site', () => {
    expect(whyNotSiteLogLine('{"level":30,"site":"site-a","msg":"listening"}')).toBeNull();
  });

  it.each([
    [
      'a text line',
      '(node:123) [FSTWRN004] FastifyWarning: It seems that you are overriding an errorHandler',
      'not JSON',
    ],
    ["Nest's own logger", '[Nest] 123  - 11/29/2026, 11:00:00 AM     LOG [NestFactory] Starting', 'not JSON'],
    ['an empty line', '', 'not JSON'],
    ['JSON that is no object', '["site-a"]', 'not a JSON object'],
    ['a line without the site', '{"level":30,"msg":"listening"}', 'no site'],
    ['a line with a null site', '{"level":30,"site":null,"msg":"listening"}', 'no site'],
  ])('refuses %s', (_what, line, why) => {
    expect(whyNotSiteLogLine(line)).toBe(why);
  });

  it("refuses a line naming another site than the process's", () => {
    expect(whyNotSiteLogLine('{"site":"site-b","msg":"x"}', 'site-a')).toBe('site site-b, not site-a');
    expect(whyNotSiteLogLine('{"site":"site-a","msg":"x"}', 'site-a')).toBeNull();
    const check = new SiteLogCheck('site-a');
    check.feed('{"site":"site-a"}\n{"site":"master"}\n');
    expect([check.lines, check.badCount]).toEqual([2, 1]);
  });

  it('checks a stream line by line, a line split across chunks included, and keeps the bad ones', () => {
    const check = new SiteLogCheck();
    check.feed('{"site":"site-a","msg":"one"}\n{"site":"si');
    check.feed('te-a","msg":"two"}\nWarning: not JSON\n');
    check.feed('{"msg":"no site, no newline"}');
    expect([check.lines, check.badCount]).toEqual([3, 1]);
    check.end();
    expect([check.lines, check.badCount]).toEqual([4, 2]);
    expect(check.bad).toEqual(['not JSON: Warning: not JSON', 'no site: {"msg":"no site, no newline"}']);
  });
});
