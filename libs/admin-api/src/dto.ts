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
