import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsObject,
  IsOptional,
  IsString,
  ValidateIf,
} from 'class-validator';
import type { JsonObject } from '@dd/directory';

/** SPEC §5 request bodies. Shape only: the name, kind and size rules live in @dd/directory. */
export class CreateDomainDto {
  @ApiProperty({ example: 'eu.sales.acme' })
  @IsString()
  name: string;

  @ApiPropertyOptional({ nullable: true, type: String, example: 'sales.acme' })
  @IsOptional()
  @ValidateIf((_, v) => v !== null)
  @IsString()
  parent?: string | null;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @ValidateIf((_, v) => v !== undefined) // absent means {}; null is refused (SPEC §3: never null)
  @IsObject()
  settings?: JsonObject;
}

export class PatchDomainDto {
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'JSON merge patch (RFC 7396)' })
  @IsObject()
  settings: JsonObject;
}

export class CreateEntityDto {
  @ApiProperty({ example: 'user' })
  @IsString()
  kind: string;

  @ApiProperty({ example: 'alice' })
  @IsString()
  name: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @ValidateIf((_, v) => v !== undefined) // absent means {}; null is refused (SPEC §3: never null)
  @IsObject()
  attributes?: JsonObject;
}

export class PatchEntityDto {
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'JSON merge patch (RFC 7396)' })
  @IsObject()
  attributes: JsonObject;
}

/** SPEC §5 `POST /batch`: each op is checked on its own (a bad op is that op's 400, not the batch's). */
export class BatchDto {
  @ApiProperty({
    type: 'array',
    maxItems: 1000,
    items: {
      type: 'object',
      properties: {
        method: { type: 'string', example: 'POST' },
        path: { type: 'string', example: '/domains/acme/entities' },
        body: { type: 'object', additionalProperties: true },
        ifMatch: { type: 'string' },
      },
      required: ['method', 'path'],
    },
  })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  ops: unknown[];
}

// SPEC §5 query parameters, for the OpenAPI document. They arrive as text and are read by the
// functions named on each (parseLimit, decodeCursor, recursiveFlag, parseRunTimeout), which answer a
// bad value with 400 `validation_failed`; the body pipe leaves queries alone.

/** `limit`: read by parseLimit. */
export class LimitQuery {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1000, default: 100 })
  limit?: string;
}

/** `limit` and `after`: read by parseLimit and decodeCursor. */
export class PageQuery extends LimitQuery {
  @ApiPropertyOptional({ description: 'the `next` of the page before (an opaque cursor)' })
  after?: string;
}

export class DomainListQuery extends PageQuery {
  @ApiPropertyOptional({ example: 'acme', description: 'only the children of this domain' })
  parent?: string;
}

export class EntityListQuery extends PageQuery {
  @ApiPropertyOptional({ example: 'user', description: 'only entities of this kind' })
  kind?: string;
}

/** `recursive`: read by recursiveFlag. */
export class DeleteDomainQuery {
  @ApiPropertyOptional({
    type: 'boolean',
    default: false,
    description:
      'delete the children and entities too (without it, a domain that has any is 409 `has_children`)',
  })
  recursive?: string;
}

export class AuditQuery extends PageQuery {
  @ApiPropertyOptional({ example: 'acme', description: 'only the changes to this domain and its entities' })
  domain?: string;
}

/** `timeoutMs`: read by parseRunTimeout. */
export class SyncRunQuery {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 600000, default: 120000 })
  timeoutMs?: string;
}
