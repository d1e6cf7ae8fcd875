import { Global, Module } from '@nestjs/common';
import { ANSWER_HERE, HOP_NONCES, SITE_ROUTING } from '@dd/admin-api';
import { PgNonceStore } from './pg-nonce.store';

/**
 * SPEC §9: the MDC verifies proxied hops and checks scope like any site, and answers everything
 * itself. Global: `RoutingInterceptor` is bound to controllers of several modules.
 */
@Global()
@Module({
  providers: [
    PgNonceStore,
    { provide: HOP_NONCES, useExisting: PgNonceStore },
    { provide: SITE_ROUTING, useValue: ANSWER_HERE },
  ],
  exports: [PgNonceStore, HOP_NONCES, SITE_ROUTING],
})
export class SiteHopsModule {}
