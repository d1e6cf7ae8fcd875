import { Body, Controller, HttpCode, Post, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CurrentCaller } from './auth';
import { BatchService } from './batch';
import type { Caller } from './directory.service';
import { BatchDto } from './dto';
import { RoutingInterceptor } from './routing';

/** SPEC §5 `POST /batch`: the bulk path for provisioning (`domainctl import` uses it). */
@ApiTags('directory')
@ApiBearerAuth()
@Controller('api/v1')
@UseInterceptors(RoutingInterceptor)
export class BatchController {
  constructor(private readonly batch: BatchService) {}

  @Post('batch')
  @HttpCode(200)
  async run(@CurrentCaller() caller: Caller, @Body() dto: BatchDto) {
    return { results: await this.batch.run(caller, dto.ops) };
  }
}
