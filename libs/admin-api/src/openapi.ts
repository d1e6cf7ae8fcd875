import { applyDecorators, INestApplication, Type } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiHeader,
  ApiOperation,
  ApiResponse,
  DocumentBuilder,
  HeadersObject,
  OpenAPIObject,
  SwaggerModule,
} from '@nestjs/swagger';
import { ERROR_CODES, STATUS_OF } from './errors';
import { ErrorDto } from './responses';

// Composed @nestjs/swagger decorators for SPEC §5's contract, so a controller says per operation only
// what is its own: summary, success answer, the errors beyond those every admin call can give.

const text = { type: 'string' } as const;
const nonEmpty = { type: 'string', minLength: 1 } as const;

/** SPEC §5 response headers, once in `components.headers`; responses refer to them. */
const HEADERS = {
  'X-Served-By': {
    description: 'the site that answered from its own data',
    required: true,
    schema: nonEmpty,
  },
  'X-Request-Id': {
    description: 'the request id, the same across a proxy hop',
    required: true,
    schema: nonEmpty,
  },
  ETag: {
    description: 'the version as an entity tag, `"<version>"`; send it back in If-Match',
    required: true,
    schema: { type: 'string', pattern: '^"[^"]+"$', example: '"42"' },
  },
  'X-Sync-State': {
    description: '`synced` (the MDC has it) or `pending` (queued at this SDC)',
    required: true,
    schema: { type: 'string', enum: ['synced', 'pending'] },
  },
  'Retry-After': {
    description: 'seconds to wait before trying again',
    required: true,
    schema: { type: 'integer', minimum: 0 },
  },
  'Retry-After-If-Any': {
    description:
      'seconds to wait before trying again (`store_unavailable`, `queue_full`; not `mdc_unreachable`)',
    schema: { type: 'integer', minimum: 0 },
  },
  'WWW-Authenticate': {
    description: '`Bearer`',
    required: true,
    schema: { type: 'string', pattern: '^Bearer' },
  },
} satisfies HeadersObject;

type HeaderName = keyof typeof HEADERS;

/** X-Served-By, X-Request-Id and `names` by reference; a pair [header, entry] documents a header by a variant. */
function headers(...names: Array<HeaderName | [string, HeaderName]>): HeadersObject {
  const all: Array<[string, HeaderName]> = [
    ['X-Served-By', 'X-Served-By'],
    ['X-Request-Id', 'X-Request-Id'],
  ];
  for (const name of names) all.push(Array.isArray(name) ? name : [name, name]);
  return Object.fromEntries(
    all.map(([header, entry]) => [header, { $ref: `#/components/headers/${entry}` }]),
  );
}

/** Headers an error carries beyond X-Served-By and X-Request-Id (SPEC §5). */
const ERROR_HEADERS: Record<number, HeadersObject> = {
  401: headers('WWW-Authenticate'),
  429: headers('Retry-After'),
  503: headers(['Retry-After', 'Retry-After-If-Any']),
};

/** What an admin call can always answer: a bad request, no or a wrong token, out of scope, too many calls, store down. */
const ADMIN_ERRORS = [400, 401, 403, 429, 503];

function codesOf(status: number): string {
  const codes = ERROR_CODES.filter((code) => STATUS_OF[code] === status);
  return codes.length > 0 ? codes.map((code) => `\`${code}\``).join(', ') : 'error';
}

function errorResponse(status: number) {
  return ApiResponse({
    status,
    type: ErrorDto,
    description: codesOf(status),
    headers: ERROR_HEADERS[status] ?? headers(),
  });
}

/** The error answers of an operation, each with SPEC §5's `{ statusCode, code, message }`. */
export function ApiErrors(...statuses: number[]) {
  return applyDecorators(...[...new Set(statuses)].sort().map(errorResponse));
}

/** An admin API operation: bearer auth, its summary, and the errors every admin call can give plus `more`. */
export function ApiAdminOperation(summary: string, ...more: number[]) {
  return applyDecorators(ApiOperation({ summary }), ApiBearerAuth(), ApiErrors(...ADMIN_ERRORS, ...more));
}

/** An operations endpoint outside the base path: no auth (SPEC §5). */
export function ApiPublicOperation(summary: string, ...errors: number[]) {
  return applyDecorators(ApiOperation({ summary, security: [] }), ApiErrors(...errors));
}

export interface AnswerOptions {
  type?: Type<unknown>;
  description: string;
  /** ETag: an answer that is one versioned object */
  tagged?: boolean;
  /** X-Sync-State: the answer to a write */
  written?: boolean;
  /** a text/plain body */
  text?: boolean;
}

/** A success answer with the headers SPEC §5 gives it. */
export function ApiAnswer(
  status: number,
  { type, description, tagged, written, text: plain }: AnswerOptions,
) {
  const names: HeaderName[] = [];
  if (tagged) names.push('ETag');
  if (written) names.push('X-Sync-State');
  if (plain)
    return ApiResponse({
      status,
      description,
      headers: headers(),
      content: { 'text/plain': { schema: text } },
    });
  return ApiResponse({ status, type, description, headers: headers(...names) });
}

/** A write's answers: its own status, and 202 `pending` at an SDC whose MDC did not answer in time for X-Wait-For. */
export function ApiWriteAnswers(status: 200 | 201 | 204, type?: Type<unknown>) {
  const tagged = type !== undefined;
  return applyDecorators(
    ApiAnswer(status, {
      type,
      description: 'done; `X-Sync-State` says whether the MDC has it',
      tagged,
      written: true,
    }),
    ApiAnswer(202, {
      type,
      description:
        'at an SDC with `X-Wait-For: mdc`: the MDC could not be reached in time; the change is queued',
      tagged,
      written: true,
    }),
    ApiHeader({
      name: 'X-Wait-For',
      required: false,
      description: 'at an SDC, `mdc`: send the change at once and answer with the MDC’s verdict',
      schema: { type: 'string', enum: ['mdc'] },
    }),
  );
}

/** `If-Match` on PATCH and DELETE (SPEC §5): the write happens only at that version, else 409 `version_conflict`. */
export function ApiIfMatch() {
  return ApiHeader({
    name: 'If-Match',
    required: false,
    description: 'the ETag of a read (`"<version>"`): write only if the object is still at that version',
    schema: text,
  });
}

/**
 * SPEC §5, §10: a site's OpenAPI document, served on /docs and /docs-json and committed as
 * docs/openapi.<app>.json (drift-checked, linted and held to real traffic in CI).
 */
export function openApiDocument(app: INestApplication, title: string): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle(title)
    .setDescription(
      'SPEC §5: the admin REST API every site serves, and the operations endpoints. Every error is ' +
        '`{ statusCode, code, message }`; every answer names the site that answered in `X-Served-By`.',
    )
    .setVersion('1')
    .setLicense('UNLICENSED', 'https://docs.npmjs.com/cli/configuring-npm/package-json#license')
    .addServer('/', 'the site itself')
    .addBearerAuth()
    .addTag('directory', 'domains and entities (SPEC §5), answered here or through a proxy hop')
    .addTag('sync', 'the sync state of a site (SPEC §5, §8)')
    .addTag('cluster', 'the MDC’s views of the whole cluster (SPEC §5)')
    .addTag('operations', 'health and metrics, outside the base path, without auth (SPEC §10)')
    .build();
  const document = SwaggerModule.createDocument(app, config);
  document.components = { ...document.components, headers: HEADERS };
  return document;
}
