/**
 * PostgreSQL's refusals of what a row holds: SQLSTATE class 22 (data exception — a NUL byte or a
 * lone surrogate in JSON or text, a value out of range) and class 23 (integrity constraint). The
 * `pg` error carries `code`, and TypeORM's QueryFailedError copies it.
 */
const DATA_CLASSES = /^2[23]/;

/** What PostgreSQL refused, as a verdict's message; undefined for any other failure. */
export function dataRefusal(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const { code, detail } = err as Error & { code?: unknown; detail?: unknown };
  if (typeof code !== 'string' || !DATA_CLASSES.test(code)) return undefined;
  const why = typeof detail === 'string' && detail !== '' ? `${err.message}: ${detail}` : err.message;
  return storable(`PostgreSQL refused the change: ${why} (SQLSTATE ${code})`);
}

/** The message goes into DomainDB's ledger itself, so it must hold nothing PostgreSQL refuses. */
function storable(text: string): string {
  return text
    .replaceAll('\u0000', '\\u0000')
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}
