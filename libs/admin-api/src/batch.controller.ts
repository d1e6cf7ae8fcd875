import { Body, Controller, HttpCode, Post, UseInterceptors } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { CurrentCaller } from './auth';
import { BatchService } from './batch';
import type { Caller } from './directory.service';
import { BatchDto } from './dto';
import { ApiAdminOperation, ApiAnswer } from './openapi';
import { BatchAnswerDto } from './responses';
import { RoutingInterceptor } from './routing';

/** SPEC §5 `POST /batch`: the bulk path for provisioning (`domainctl import` uses it). */
@ApiTags('directory')
@Controller('api/v1')
@UseInterceptors(RoutingInterceptor)
export class BatchController {
  constructor(private readonly batch: BatchService) {}

  @Post('batch')
  @HttpCode(200)
  @ApiAdminOperation(
    'Run up to 1000 domain and entity operations in order, each answered as if sent alone',
    413,
    415,
  )
  @ApiAnswer(200, { type: BatchAnswerDto, description: "each op's status and body, in order" })
  async run(@CurrentCaller() caller: Caller, @Body() dto: BatchDto) {
    return { results: await this.batch.run(caller, dto.ops) };
  }
}
