import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Type } from '@nestjs/common';
import { Write } from '@dd/directory';
import { scopeAllows } from '@dd/site-auth';
import { assertAddressable } from './addressing';
import { BodyValidationPipe } from './body-validation.pipe';
import { AdminWrite, Caller, DIRECTORY_SERVICE, DirectoryService, WriteOutcome } from './directory.service';
import { CreateDomainDto, CreateEntityDto, PatchDomainDto, PatchEntityDto } from './dto';
import { ApiError, STORE_FAILURE, StoreFailureCheck } from './errors';
import { toErrorResponse } from './exception.filter';
import { decodeCursor, parseLimit } from './paging';
import { SITE_ROUTING, SiteRouting } from './routing';
import { domainCreate, entityCreate, recursiveFlag } from './write-requests';

/** SPEC §5: a batch holds at most this many operations. */
export const MAX_BATCH_OPS = 1000;

/** One operation of `POST /batch`, as the admin sent it. */
export interface BatchOp {
  method: string;
  /** relative to `/api/v1`, e.g. `/domains/acme/entities`, with its query */
  path: string;
  body?: unknown;
  ifMatch?: string;
}

/** Each operation answered as if sent alone (SPEC §5). */
export interface BatchResult {
  status: number;
  body: unknown;
}

/** An operation ready to run: a write (decided with the writes next to it) or a read. */
type Planned =
  | { kind: 'write'; write: AdminWrite; status: 200 | 201 | 204 }
  | { kind: 'read'; read: () => Promise<unknown> }
  | { kind: 'done'; result: BatchResult };
type PlannedWrite = Extract<Planned, { kind: 'write' }>;

const OP_KEYS = new Set(['method', 'path', 'body', 'ifMatch']);

/**
 * SPEC §5 `POST /batch`: up to 1000 domain and entity calls in one request, applied in order, each
 * answered as if sent alone — its own scope check (403), routing (421 for a domain this site does
 * not answer for: a batch is never proxied), validation (400) and verdict; one refused op does not
 * stop the rest. Consecutive writes go to the site's store together (one group: SPEC §6), each seeing
 * the ones before it; a read sees every write before it.
 */
@Injectable()
export class BatchService {
  private readonly logger = new Logger('Batch');
  private readonly bodies = new BodyValidationPipe();

  constructor(
    @Inject(DIRECTORY_SERVICE) private readonly directory: DirectoryService,
    @Inject(SITE_ROUTING) private readonly routing: SiteRouting,
    @Inject(STORE_FAILURE) private readonly isStoreFailure: StoreFailureCheck,
  ) {}

  async run(caller: Caller, ops: unknown[]): Promise<BatchResult[]> {
    // Where each domain is first created by an op of this batch (an op after it may address it).
    const createdAt = new Map<string, number>();
    ops.forEach((op, i) => {
      const name = createdDomain(op);
      if (name !== undefined && !createdAt.has(name)) createdAt.set(name, i);
    });
    const served = new Map<string, Promise<boolean>>();
    const servesHere = (at: number) => (domain: string, method: string, route: string) => {
      const createdEarlier = (createdAt.get(domain) ?? Infinity) < at;
      const key = `${method} ${route} ${domain} ${createdEarlier}`;
      let answer = served.get(key);
      if (!answer)
        served.set(key, (answer = this.routing.servesHere({ domain, method, route }, createdEarlier)));
      return answer;
    };
    const planned = await Promise.all(
      ops.map((op, at) =>
        this.plan(caller, op, servesHere(at)).catch((error: unknown): Planned => ({
          kind: 'done',
          result: this.failure(error),
        })),
      ),
    );
    const results: BatchResult[] = new Array(ops.length);
    let run: Array<{ at: number; op: PlannedWrite }> = [];
    const flush = async () => {
      if (run.length === 0) return;
      const writes = run;
      run = [];
      // A store that fails a whole group answers each of its writes with that error (SPEC §5: every
      // op is answered); the writes of other groups keep their own answers.
      const outcomes = await this.directory
        .writeAll(
          caller,
          writes.map((w) => w.op.write),
        )
        .catch((error: unknown) => writes.map((): WriteOutcome => ({ ok: false, error })));
      writes.forEach((w, n) => (results[w.at] = this.answer(w.op, outcomes[n])));
    };
    for (const [at, p] of planned.entries()) {
      if (p.kind === 'done') results[at] = p.result;
      else if (p.kind === 'write') run.push({ at, op: p });
      else {
        await flush();
        results[at] = await p.read().then(
          (body) => ({ status: 200, body }),
          (error: unknown) => this.failure(error),
        );
      }
    }
    await flush();
    return results;
  }

  private answer(p: PlannedWrite, outcome: WriteOutcome): BatchResult {
    if (!outcome.ok) return this.failure(outcome.error);
    if (outcome.accepted) return { status: 202, body: outcome.body ?? null };
    return { status: p.status, body: p.status === 204 ? null : (outcome.body ?? null) };
  }

  private failure(error: unknown): BatchResult {
    const { body } = toErrorResponse(error, this.logger, this.isStoreFailure);
    return { status: body.statusCode, body };
  }

  /** The checks a lone request meets before its handler (SPEC §5, §9), then what to run. */
  private async plan(
    caller: Caller,
    raw: unknown,
    servesHere: (domain: string, method: string, route: string) => Promise<boolean>,
  ): Promise<Planned> {
    const op = opOf(raw);
    const { segments, query } = addressOf(op.path);
    const method = op.method.toUpperCase();
    const [root, name, sub, kind, entityName, ...rest] = segments;
    if (root !== 'domains' || rest.length > 0 || (sub !== undefined && sub !== 'entities')) {
      throw new ApiError('validation_failed', `not a domain or entity call: ${op.method} ${op.path}`);
    }
    const creatingDomain = method === 'POST' && name === undefined;
    const domain = creatingDomain ? nameIn(op.body) : name;
    if (domain !== undefined) {
      if (!scopeAllows(caller.admin.scope, domain)) {
        throw new ApiError('forbidden', `admin ${caller.admin.name} has no access to domain ${domain}`);
      }
      const route = `/api/v1/domains${name === undefined ? '' : '/:name'}${sub ? '/entities' : ''}${kind !== undefined ? '/:kind/:entityName' : ''}`;
      if (!(await servesHere(domain, method, route))) {
        throw new ApiError(
          'misdirected',
          `this site does not answer for ${domain}: send the op to a site that does`,
        );
      }
    }
    const ifMatch = op.ifMatch?.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
    const body = async <T>(dto: Type<T>): Promise<T> => {
      if (op.body === undefined) throw new ApiError('validation_failed', 'this call takes a JSON body');
      return (await this.bodies.transform(op.body, { type: 'body', metatype: dto, data: '' })) as T;
    };
    const write = (w: Write, status: 200 | 201 | 204): Planned => ({
      kind: 'write',
      write: { write: w, ...(ifMatch !== undefined ? { ifMatch } : {}) },
      status,
    });
    const read = (r: () => Promise<unknown>): Planned => ({ kind: 'read', read: r });
    const d = this.directory;
    const key = `${method} ${[name === undefined ? '' : 'n', sub ?? '', kind === undefined ? '' : 'e'].join('/')}`;
    switch (key) {
      case 'GET //':
        return read(() =>
          d.listDomains(caller, query.parent, parseLimit(query.limit), decodeCursor(query.after, 1)?.[0]),
        );
      case 'POST //': {
        const dto = await body(CreateDomainDto);
        return write(domainCreate(dto), 201);
      }
      case 'GET n//':
        return read(() => d.getDomain(caller, name!));
      case 'PATCH n//': {
        const dto = await body(PatchDomainDto);
        return write({ op: 'domain.update', name: name!, patch: dto.settings }, 200);
      }
      case 'DELETE n//':
        return write({ op: 'domain.delete', name: name!, recursive: recursiveFlag(query.recursive) }, 204);
      case 'GET n/entities/':
        return read(() =>
          d.listEntities(
            caller,
            name!,
            query.kind || undefined,
            parseLimit(query.limit),
            decodeCursor(query.after, 2),
          ),
        );
      case 'POST n/entities/': {
        const dto = await body(CreateEntityDto);
        return write(entityCreate(name!, dto), 201);
      }
      case 'GET n/entities/e':
        return read(() => d.getEntity(caller, name!, kind!, entityName!));
      case 'PATCH n/entities/e': {
        const dto = await body(PatchEntityDto);
        return write(
          { op: 'entity.update', domain: name!, kind: kind!, name: entityName!, patch: dto.attributes },
          200,
        );
      }
      case 'DELETE n/entities/e':
        return write({ op: 'entity.delete', domain: name!, kind: kind!, name: entityName! }, 204);
      default:
        throw new ApiError('validation_failed', `not a domain or entity call: ${op.method} ${op.path}`);
    }
  }
}

function opOf(raw: unknown): BatchOp {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ApiError('validation_failed', 'an op must be an object { method, path, body?, ifMatch? }');
  }
  const unknown = Object.keys(raw).find((k) => !OP_KEYS.has(k));
  if (unknown !== undefined)
    throw new ApiError('validation_failed', `op property ${unknown} should not exist`);
  const op = raw as Record<string, unknown>;
  if (typeof op.method !== 'string' || typeof op.path !== 'string') {
    throw new ApiError('validation_failed', 'an op needs a method and a path (strings)');
  }
  if (op.ifMatch !== undefined && typeof op.ifMatch !== 'string') {
    throw new ApiError('validation_failed', 'ifMatch must be a string');
  }
  return op as unknown as BatchOp;
}

/** The path's segments, decoded, and its query — checked as a lone request's would be (SPEC §5). */
function addressOf(path: string): { segments: string[]; query: Record<string, string | undefined> } {
  const at = path.indexOf('?');
  const pathPart = (at < 0 ? path : path.slice(0, at)).replace(/^\/?(api\/v1\/)?/, '');
  let segments: string[];
  try {
    segments = pathPart.split('/').map(decodeURIComponent);
  } catch {
    throw new ApiError('validation_failed', 'the path has a bad % escape');
  }
  if (segments.includes('')) throw new ApiError('validation_failed', `the path ${path} has an empty segment`);
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(at < 0 ? '' : path.slice(at + 1))) {
    const prior = query[k];
    query[k] = prior === undefined ? v : [...(Array.isArray(prior) ? prior : [prior]), v];
  }
  const params = Object.fromEntries(segments.map((s, i) => [`segment${i + 1}`, s]));
  assertAddressable({ url: `/${at < 0 ? '' : path.slice(at)}`, params, query });
  return { segments, query: query as Record<string, string | undefined> };
}

/** The domain an op creates (`POST /domains`), if it is one (read as `plan` reads it). */
function createdDomain(raw: unknown): string | undefined {
  try {
    const op = opOf(raw);
    const { segments } = addressOf(op.path);
    const creates = op.method.toUpperCase() === 'POST' && segments.length === 1 && segments[0] === 'domains';
    return creates ? nameIn(op.body) : undefined;
  } catch {
    return undefined; // a malformed op creates nothing; `plan` answers it with its 400
  }
}

function nameIn(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || !('name' in body)) return undefined;
  return typeof body.name === 'string' ? body.name : undefined;
}
