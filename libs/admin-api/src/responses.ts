import type { Type } from '@nestjs/common';
import { ApiExtraModels, ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { ERROR_CODES, ErrorCode } from './errors';

// SPEC §5 answers, as classes for the OpenAPI document only (the one source of both apps' documents):
// the services build plain objects of these shapes; the conformance check (scripts/check-conformance.ts)
// holds real answers to them.

const FREE_FORM = { type: 'object', additionalProperties: true } as const;
const TIME = { type: String, format: 'date-time' } as const;

/** SPEC §5: every error, the framework's included. Some carry more (`winner`, `tried`, `capacity`, `errorId`). */
export class ErrorDto {
  @ApiProperty({ type: 'integer', minimum: 400, maximum: 599, example: 404 })
  statusCode: number;

  @ApiProperty({ enum: ERROR_CODES, enumName: 'ErrorCode', example: 'domain_not_found' })
  code: ErrorCode;

  @ApiProperty({ example: 'domain acme does not exist' })
  message: string;

  @ApiPropertyOptional({
    ...FREE_FORM,
    nullable: true,
    description: 'with a rule refusal (409): the state that prevailed',
  })
  winner?: Record<string, unknown> | null;

  @ApiPropertyOptional({ type: [String], description: 'with 502 site_unreachable: the sites tried' })
  tried?: string[];

  @ApiPropertyOptional({ type: 'integer', description: 'with 503 queue_full: the queue capacity' })
  capacity?: number;

  @ApiPropertyOptional({ description: 'with 500 internal_error: the id logged with the error' })
  errorId?: string;
}

/** What domains and entities share: an id, a version, times, and at an SDC whether it is still local. */
export class VersionedDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ example: '42', description: 'opaque; the value of ETag and If-Match' })
  version: string;

  @ApiProperty(TIME)
  createdAt: string;

  @ApiProperty(TIME)
  updatedAt: string;

  @ApiPropertyOptional({ description: 'at an SDC: a local change the MDC has not confirmed yet' })
  pending?: boolean;
}

export class DomainDto extends VersionedDto {
  @ApiProperty({ example: 'eu.sales.acme' })
  name: string;

  @ApiProperty({
    type: String,
    nullable: true,
    example: 'sales.acme',
    description: 'null for a first-level domain',
  })
  parent: string | null;

  @ApiProperty(FREE_FORM)
  settings: Record<string, unknown>;
}

export class EntityDto extends VersionedDto {
  @ApiProperty({ example: 'acme', description: "the owning domain's name" })
  domain: string;

  @ApiProperty({ example: 'user' })
  kind: string;

  @ApiProperty({ example: 'alice' })
  name: string;

  @ApiProperty(FREE_FORM)
  attributes: Record<string, unknown>;
}

export class DomainSummaryDto {
  @ApiProperty({ example: 'eu.sales.acme' })
  name: string;

  @ApiProperty({ type: String, nullable: true })
  parent: string | null;

  @ApiProperty({ type: [String], example: ['site-a'], description: 'the sites whose zones hold it' })
  servedBy: string[];
}

const NEXT = {
  type: String,
  nullable: true,
  description: 'null on the last page, otherwise the opaque cursor to pass as `after`',
} as const;

export class DomainPageDto {
  @ApiProperty({ type: [DomainSummaryDto] })
  items: DomainSummaryDto[];

  @ApiProperty(NEXT)
  next: string | null;
}

export class EntityPageDto {
  @ApiProperty({ type: [EntityDto] })
  items: EntityDto[];

  @ApiProperty(NEXT)
  next: string | null;
}

export class BatchResultDto {
  @ApiProperty({ type: 'integer', example: 201 })
  status: number;

  @ApiProperty({
    ...FREE_FORM,
    nullable: true,
    description: "the op's answer as if sent alone: a domain, an entity, a page, an error; null for a 204",
  })
  body: Record<string, unknown> | null;
}

export class BatchAnswerDto {
  @ApiProperty({ type: [BatchResultDto] })
  results: BatchResultDto[];
}

export class QueueDto {
  @ApiProperty({ type: 'integer' })
  length: number;

  @ApiProperty({ type: 'integer' })
  capacity: number;

  @ApiProperty({
    type: 'integer',
    nullable: true,
    description: 'age of the oldest queued change; null when empty',
  })
  oldestAgeMs: number | null;
}

export class CycleReportDto {
  @ApiProperty()
  ok: boolean;

  @ApiProperty({ type: String, nullable: true, example: 'mdc_unreachable' })
  error: string | null;

  @ApiProperty({ type: 'integer' })
  durationMs: number;

  @ApiProperty({ type: 'integer' })
  pushed: number;

  @ApiProperty({ type: 'integer' })
  rejected: number;

  @ApiProperty({ type: 'integer' })
  pulled: number;

  @ApiProperty({ type: 'integer' })
  repaired: number;

  @ApiProperty(TIME)
  at: string;
}

const PHASES = ['queued', 'push', 'pull', 'verify', 'record'];

/** SPEC §5 `POST /sync/run` past its deadline: how far the running cycle has got. */
export class CycleProgressDto {
  @ApiProperty({ enum: PHASES })
  phase: string;

  @ApiProperty({ type: 'integer', description: 'push batches, pulled pages and snapshots done' })
  pages: number;

  @ApiProperty({ type: 'integer', description: 'changes pushed and objects pulled so far' })
  objects: number;
}

export class CycleRunningDto extends CycleProgressDto {
  @ApiProperty(TIME)
  startedAt: string;

  @ApiProperty(TIME)
  at: string;
}

/** SPEC §11: the last range DomainDB lost that the site no longer kept to push again. */
export class LostChangesDto {
  @ApiProperty({ description: 'the epoch the lost seqs were of' })
  epoch: string;

  @ApiProperty({ type: 'integer' })
  fromSeq: number;

  @ApiProperty({ type: 'integer' })
  toSeq: number;

  @ApiProperty({
    type: 'integer',
    description: 'acknowledged changes the site kept after the lost range, queued again under newEpoch',
  })
  requeued: number;

  @ApiProperty({ description: 'the epoch the site went on under' })
  newEpoch: string;

  @ApiProperty(TIME)
  at: string;
}

export class SyncRunDto {
  @ApiProperty({ type: CycleReportDto })
  lastCycle: CycleReportDto;
}

/**
 * An object of `dto`'s schema, or null. (OpenAPI 3.0's `nullable` does not reach into a `$ref`;
 * `{ nullable, enum: [null] }` is its way of saying "null".)
 */
function orNull(dto: Type<unknown>) {
  return { anyOf: [{ $ref: getSchemaPath(dto) }, { type: 'object', nullable: true, enum: [null] }] };
}

/** SPEC §5 `GET /sync/status`; the master site answers it too (no queue, its own MDC). */
@ApiExtraModels(CycleReportDto, CycleRunningDto, LostChangesDto)
export class SyncStatusDto {
  @ApiProperty({ example: 'site-a' })
  site: string;

  @ApiProperty({ enum: ['master', 'site'] })
  role: string;

  @ApiProperty({ type: String, nullable: true, description: "the site's queue epoch; null at the MDC" })
  epoch: string | null;

  @ApiProperty({ type: QueueDto })
  queue: QueueDto;

  @ApiProperty()
  mdcReachable: boolean;

  @ApiProperty()
  signalConnected: boolean;

  @ApiProperty({ ...TIME, nullable: true })
  lastPushAt: string | null;

  @ApiProperty({ ...TIME, nullable: true })
  lastResyncAt: string | null;

  @ApiProperty(orNull(CycleReportDto))
  lastCycle: CycleReportDto | null;

  @ApiProperty({ type: [String], example: ['acme', 'globex'] })
  servedZones: string[];

  @ApiPropertyOptional({ description: 'at an SDC: the MDC change-log version pulled through' })
  cursor?: string;

  @ApiPropertyOptional({ ...orNull(CycleRunningDto), description: 'at an SDC: the cycle running now' })
  running?: CycleRunningDto | null;

  @ApiPropertyOptional({
    ...orNull(LostChangesDto),
    description:
      'at an SDC: the last range of acknowledged changes DomainDB lost (a failover, a restore) that the site no longer kept to push again — lost for good; null: none',
  })
  lostChanges?: LostChangesDto | null;

  @ApiPropertyOptional({ type: 'integer', description: 'at the MDC: sites listening to its change signal' })
  signalSubscribers?: number;

  @ApiPropertyOptional({ description: "at the MDC: its change log's head version" })
  head?: string;
}

export class RejectionDto {
  @ApiProperty({ type: 'integer' })
  seq: number;

  @ApiProperty({ example: 'domain.create' })
  op: string;

  @ApiProperty({ description: 'the domain or entity the change was about' })
  target: string;

  @ApiProperty({ example: 'already_exists', description: 'the error code' })
  reason: string;

  @ApiProperty()
  message: string;

  @ApiProperty(TIME)
  at: string;

  @ApiProperty({ ...FREE_FORM, description: 'the refused change in full' })
  change: Record<string, unknown>;

  @ApiProperty()
  actor: string;

  @ApiProperty({ ...FREE_FORM, nullable: true, description: "the MDC's state that prevailed, if any" })
  winner: Record<string, unknown> | null;
}

export class RejectionListDto {
  @ApiProperty({ type: [RejectionDto], description: 'newest first' })
  items: RejectionDto[];
}

export class SiteStatusDto {
  @ApiProperty({ example: 'site-a' })
  site: string;

  @ApiProperty({ enum: ['master', 'site'] })
  role: string;

  @ApiProperty({ format: 'uri' })
  url: string;

  @ApiProperty({ ...TIME, nullable: true })
  lastPushAt: string | null;

  @ApiProperty({ ...TIME, nullable: true })
  lastResyncAt: string | null;

  @ApiProperty({ type: String, nullable: true })
  epoch: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    description: "the last seq of the site's epoch applied (a bigint, as a decimal string)",
  })
  lastAppliedSeq: string | null;

  @ApiProperty({ type: 'integer', nullable: true, description: 'as last reported by the site' })
  queueLength: number | null;

  @ApiProperty({ type: String, nullable: true, description: 'versions behind the head' })
  lagVersions: string | null;

  @ApiProperty({ type: 'integer', nullable: true, description: 'milliseconds since its last resync' })
  lagMs: number | null;

  @ApiPropertyOptional({ description: 'the site has not been heard from within staleAfterMs' })
  stale?: boolean;
}

export class ClusterStatusDto {
  @ApiProperty({ description: "the MDC change log's head version" })
  head: string;

  @ApiPropertyOptional({ type: 'integer', description: 'how long a site may stay silent before it is stale' })
  staleAfterMs?: number;

  @ApiProperty({ type: [SiteStatusDto] })
  sites: SiteStatusDto[];
}

export class AuditEntryDto {
  @ApiProperty({ example: '42' })
  version: string;

  @ApiProperty({ example: 'site-a', description: 'the site the change came from' })
  site: string;

  @ApiProperty({ type: String, nullable: true })
  epoch: string | null;

  @ApiProperty({ type: 'integer', nullable: true })
  seq: number | null;

  @ApiProperty({ example: 'ops', description: 'the admin who made the change' })
  actor: string;

  @ApiProperty({ example: 'domain.create' })
  op: string;

  @ApiProperty({ example: 'acme' })
  domain: string;

  @ApiProperty(FREE_FORM)
  change: Record<string, unknown>;

  @ApiProperty(TIME)
  at: string;
}

export class AuditPageDto {
  @ApiProperty({ type: [AuditEntryDto], description: 'newest first' })
  items: AuditEntryDto[];

  @ApiProperty(NEXT)
  next: string | null;
}

export class LiveDto {
  @ApiProperty({ enum: ['ok'] })
  status: string;
}

/** @nestjs/terminus's answer: the state of each indicator. */
export class ReadyDto {
  @ApiProperty({ enum: ['ok'] })
  status: string;

  @ApiPropertyOptional(FREE_FORM)
  info?: Record<string, unknown>;

  @ApiPropertyOptional(FREE_FORM)
  error?: Record<string, unknown>;

  @ApiProperty(FREE_FORM)
  details: Record<string, unknown>;
}
