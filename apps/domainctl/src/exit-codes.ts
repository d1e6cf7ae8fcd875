/** domainctl's exit codes (printed by `--help`). */
export const EXIT = {
  ok: 0,
  /** the API refused (its `{ code, message }` is printed), an import op was refused, a cycle failed, a site is stale */
  refused: 1,
  /** a usage error, or the site could not be reached or did not answer as the API does */
  usage: 2,
} as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0  done
  1  refused: the API answered an error (its code and message are printed), an import
     op was refused, a sync cycle failed, or (status) a site is stale
  2  usage error, or the site could not be reached or did not answer as the API does`;

/** A failure that ends the command with `exitCode` after printing `message` on stderr. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}
