import { type Command, InvalidArgumentError } from 'commander';
import { ApiClient } from './api-client';

export const DEFAULT_SITE = 'http://127.0.0.1:4000';

/** What every command gets from the global options and the environment. */
export interface Context {
  client: ApiClient;
  json: boolean;
  /** --wait-for-mdc: writes at a work site answer with the MDC's verdict */
  waitForMdc: boolean;
  /** the token, for calls to other sites (`status` asks each site) */
  token: string | undefined;
}

export function contextOf(command: Command): Context {
  const opts = command.optsWithGlobals<{ site: string; json?: boolean; waitForMdc?: boolean }>();
  const token = process.env.DOMAINCTL_TOKEN || undefined;
  const headers: Record<string, string> = opts.waitForMdc ? { 'x-wait-for': 'mdc' } : {};
  return {
    client: new ApiClient(opts.site, token, headers),
    json: opts.json === true,
    waitForMdc: opts.waitForMdc === true,
    token,
  };
}

/** Writes a line (or lines) to stdout. */
export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function printJson(value: unknown): void {
  print(JSON.stringify(value, null, 2));
}

/** Option parsers (a bad value is a usage error, exit 2). A JSON object given on the command line (`--settings '{"tier":"gold"}'`). */
export function jsonObjectOption(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new InvalidArgumentError('not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new InvalidArgumentError('not a JSON object');
  return parsed as Record<string, unknown>;
}

/** A positive whole number option (`--limit 50`). */
export function positiveIntOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('not a positive whole number');
  return n;
}
