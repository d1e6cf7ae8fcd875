import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Patch,
  Post,
  Query,
  Res,
  UseInterceptors,
} from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentCaller } from './auth';
import { Caller, Conditional, DIRECTORY_SERVICE, DirectoryService, Written } from './directory.service';
import {
  CreateDomainDto,
  CreateEntityDto,
  DeleteDomainQuery,
  DomainListQuery,
  EntityListQuery,
  PatchDomainDto,
  PatchEntityDto,
} from './dto';
import { HEADER } from './headers';
import { ApiAdminOperation, ApiAnswer, ApiIfMatch, ApiWriteAnswers } from './openapi';
import { decodeCursor, parseLimit } from './paging';
import { DomainDto, DomainPageDto, EntityDto, EntityPageDto } from './responses';
import { RoutingInterceptor } from './routing';
import { recursiveFlag } from './write-requests';

function conditional(ifMatch: string | undefined): Conditional {
  if (ifMatch === undefined) return {};
  return { ifMatch: ifMatch.replace(/^W\//, '').replace(/^"(.*)"$/, '$1') };
}

/** SPEC §5: an object's answer names its version as an entity tag, for `If-Match`. */
function tagged<T extends { version: string } | undefined>(reply: FastifyReply, body: T): T {
  if (body) reply.header(HEADER.etag, `"${body.version}"`);
  return body;
}

function answer<T extends { version: string }>(
  reply: FastifyReply,
  written: Written<T>,
  created = false,
): T | undefined {
  tagged(reply, written.body);
  reply.header(HEADER.syncState, written.syncState);
  if (written.accepted) reply.status(202);
  else if (created) reply.status(201);
  return written.body;
}

/**
 * SPEC §5 domain and entity routes, the same at every site: each handler is one call into the
 * site's DirectoryService. Scope and routing are checked before a handler runs (RoutingInterceptor).
 */
@ApiTags('directory')
@UseInterceptors(RoutingInterceptor)
@Controller('api/v1/domains')
export class DirectoryController {
  constructor(@Inject(DIRECTORY_SERVICE) private readonly directory: DirectoryService) {}

  @Get()
  @ApiAdminOperation('List domains, by name: the children of `parent`, or all (from the local tree)')
  @ApiAnswer(200, { type: DomainPageDto, description: 'a page of domains' })
  listDomains(@CurrentCaller() caller: Caller, @Query() query: DomainListQuery) {
    const { parent, limit, after } = query;
    return this.directory.listDomains(caller, parent, parseLimit(limit), decodeCursor(after, 1)?.[0]);
  }

  @Post()
  @ApiAdminOperation('Create a domain (at a site that serves the new name)', 404, 409, 413, 415, 421, 502)
  @ApiWriteAnswers(201, DomainDto)
  async createDomain(
    @CurrentCaller() caller: Caller,
    @Body() dto: CreateDomainDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const { name, parent, settings = {} } = dto;
    const written = await this.directory.createDomain(caller, { name, parent, settings });
    return answer(reply, written, true);
  }

  @Get(':name')
  @ApiAdminOperation('Read a domain', 404, 421, 502)
  @ApiAnswer(200, { type: DomainDto, description: 'the domain', tagged: true })
  async getDomain(
    @CurrentCaller() caller: Caller,
    @Param('name') name: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return tagged(reply, await this.directory.getDomain(caller, name));
  }

  @Patch(':name')
  @ApiAdminOperation("Change a domain's settings (a JSON merge patch)", 404, 409, 413, 415, 421, 502)
  @ApiWriteAnswers(200, DomainDto)
  @ApiIfMatch()
  async patchDomain(
    @CurrentCaller() caller: Caller,
    @Param('name') name: string,
    @Body() dto: PatchDomainDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const ifMatch = reply.request.headers[HEADER.ifMatch] as string | undefined;
    return answer(reply, await this.directory.patchDomain(caller, name, dto.settings, conditional(ifMatch)));
  }

  @Delete(':name')
  @HttpCode(204)
  @ApiAdminOperation(
    'Delete a domain (with `recursive`, its children and entities too)',
    404,
    409,
    413,
    415,
    421,
    502,
  )
  @ApiWriteAnswers(204)
  @ApiIfMatch()
  async deleteDomain(
    @CurrentCaller() caller: Caller,
    @Param('name') name: string,
    @Query() query: DeleteDomainQuery,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const ifMatch = reply.request.headers[HEADER.ifMatch] as string | undefined;
    const recursive = recursiveFlag(query.recursive);
    answer(reply, await this.directory.deleteDomain(caller, name, recursive, conditional(ifMatch)));
  }

  @Get(':name/entities')
  @ApiAdminOperation("List a domain's entities, by kind and name", 404, 421, 502)
  @ApiAnswer(200, { type: EntityPageDto, description: 'a page of entities' })
  listEntities(
    @CurrentCaller() caller: Caller,
    @Param('name') name: string,
    @Query() query: EntityListQuery,
  ) {
    const { kind, limit, after } = query;
    return this.directory.listEntities(
      caller,
      name,
      kind || undefined,
      parseLimit(limit),
      decodeCursor(after, 2),
    );
  }

  @Post(':name/entities')
  @ApiAdminOperation('Create an entity in a domain', 404, 409, 413, 415, 421, 502)
  @ApiWriteAnswers(201, EntityDto)
  async createEntity(
    @CurrentCaller() caller: Caller,
    @Param('name') name: string,
    @Body() dto: CreateEntityDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const { kind, name: entityName, attributes = {} } = dto;
    const written = await this.directory.createEntity(caller, name, { kind, name: entityName, attributes });
    return answer(reply, written, true);
  }

  @Get(':name/entities/:kind/:entityName')
  @ApiAdminOperation('Read an entity', 404, 421, 502)
  @ApiAnswer(200, { type: EntityDto, description: 'the entity', tagged: true })
  async getEntity(
    @CurrentCaller() caller: Caller,
    @Param('name') name: string,
    @Param('kind') kind: string,
    @Param('entityName') entityName: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return tagged(reply, await this.directory.getEntity(caller, name, kind, entityName));
  }

  @Patch(':name/entities/:kind/:entityName')
  @ApiAdminOperation("Change an entity's attributes (a JSON merge patch)", 404, 409, 413, 415, 421, 502)
  @ApiWriteAnswers(200, EntityDto)
  @ApiIfMatch()
  async patchEntity(
    @CurrentCaller() caller: Caller,
    @Param('name') name: string,
    @Param('kind') kind: string,
    @Param('entityName') entityName: string,
    @Body() dto: PatchEntityDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const ifMatch = reply.request.headers[HEADER.ifMatch] as string | undefined;
    const written = await this.directory.patchEntity(
      caller,
      name,
      kind,
      entityName,
      dto.attributes,
      conditional(ifMatch),
    );
    return answer(reply, written);
  }

  @Delete(':name/entities/:kind/:entityName')
  @HttpCode(204)
  @ApiAdminOperation('Delete an entity', 404, 409, 413, 415, 421, 502)
  @ApiWriteAnswers(204)
  @ApiIfMatch()
  async deleteEntity(
    @CurrentCaller() caller: Caller,
    @Param('name') name: string,
    @Param('kind') kind: string,
    @Param('entityName') entityName: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const ifMatch = reply.request.headers[HEADER.ifMatch] as string | undefined;
    answer(reply, await this.directory.deleteEntity(caller, name, kind, entityName, conditional(ifMatch)));
  }
}
