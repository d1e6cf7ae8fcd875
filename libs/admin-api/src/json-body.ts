import type { FastifyInstance, FastifyRequest } from 'fastify';
import { scan as scanForProtoKeys } from 'secure-json-parse';
import { MAX_JSON_DEPTH } from '@dd/directory';
import { ApiError } from './errors';

/** The admin API's paths: their bodies may nest at most MAX_JSON_DEPTH levels (SPEC §5). */
const ADMIN_API_PREFIX = '/api/';
/**
 * A site-to-site message (a push) wraps values an admin body carried — settings of up to
 * MAX_JSON_DEPTH levels — in a few levels of its own, so it is allowed that many more.
 */
const ENVELOPE_DEPTH = 8;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * True when the JSON text nests objects and arrays deeper than `limit` (strings skipped). Read
 * before parsing, so a body of 500 000 `[`s costs one pass and never reaches recursive code.
 */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

/**
 * A request body as JSON, refused with 400 `validation_failed` rather than changed: not UTF-8 (it
 * would be decoded with U+FFFD), nested deeper than `maxDepth`, not JSON, or holding a `__proto__`
 * key (an own key of that name becomes a prototype change in the first copy that assigns it).
 * `constructor` and `prototype` keys are data and pass: nothing here follows inherited properties.
 */
export function parseJsonBody(body: Buffer, maxDepth: number): unknown {
  if (body.length === 0) throw new ApiError('validation_failed', 'the body is empty; send a JSON document');
  let text: string;
  try {
    text = UTF8.decode(body);
  } catch {
    throw new ApiError('validation_failed', 'the body is not valid UTF-8');
  }
  if (nestsDeeperThan(text, maxDepth)) {
    throw new ApiError('validation_failed', `the body nests deeper than ${maxDepth} levels`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ApiError('validation_failed', `the body is not valid JSON: ${(err as Error).message}`);
  }
  const safe = { protoAction: 'error', constructorAction: 'ignore', safe: true } as const;
  if (typeof value === 'object' && value !== null && scanForProtoKeys(value, safe) === null) {
    throw new ApiError('validation_failed', 'the key "__proto__" is not accepted');
  }
  return value;
}

export type RawBodyRequest = FastifyRequest & { rawBody?: Buffer };

/**
 * SPEC §5: JSON in. `application/json` is the one body type (anything else, or a body without a
 * type, is 415 `unsupported_media_type` from Fastify); the raw bytes are kept for the signature of
 * a proxied or site-to-site call (SPEC §9).
 */
export function acceptJsonBodiesOnly(fastify: FastifyInstance, bodyLimit: number): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer', bodyLimit },
    (request, body, done) => {
      const raw = body as Buffer;
      (request as RawBodyRequest).rawBody = raw;
      const admin = request.routeOptions.url?.startsWith(ADMIN_API_PREFIX) ?? false;
      try {
        done(null, parseJsonBody(raw, admin ? MAX_JSON_DEPTH : MAX_JSON_DEPTH + ENVELOPE_DEPTH));
      } catch (err) {
        done(err as Error, undefined);
      }
    },
  );
}
