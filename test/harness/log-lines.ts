/**
 * SPEC §10: a site's logs are JSON only, each line naming the site. Why `line` is not such a line,
 * or null when it is.
 */
export function whyNotSiteLogLine(line: string, site?: string): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'not a JSON object';
  const named = (parsed as { site?: unknown }).site;
  if (typeof named !== 'string' || named === '') return 'no site';
  if (site !== undefined && named !== site) return `site ${named}, not ${site}`;
  return null;
}

/** The bad lines kept to show in a failure (all are counted). */
const BAD_KEPT = 20;

/** Checks one output stream of a process line by line as it arrives (a line may span chunks). */
export class SiteLogCheck {
  /** `site`: the SITE_ID the process was started with, which every line must name. */
  constructor(private readonly site?: string) {}

  lines = 0;
  badCount = 0;
  readonly bad: string[] = [];
  private partial = '';

  feed(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop()!;
    for (const line of parts) this.check(line);
  }

  /** The stream has ended: a last line without its newline counts too. */
  end(): void {
    if (this.partial !== '') this.check(this.partial);
    this.partial = '';
  }

  private check(line: string): void {
    this.lines += 1;
    const why = whyNotSiteLogLine(line, this.site);
    if (!why) return;
    this.badCount += 1;
    if (this.bad.length < BAD_KEPT) this.bad.push(`${why}: ${line.slice(0, 300)}`);
  }
}
