import { Module, OnApplicationShutdown } from '@nestjs/common';
import { ClusterConfigService, EnvError, SITE_ENV, SiteEnv } from '@dd/admin-api';
import { masterSite } from '@dd/cluster-config';
import { loadPrivateKey } from '@dd/site-auth';
import { MdcClient } from './mdc-client';
import { ProxyForwarder } from './proxy.forwarder';
import { SiteHttp } from './site-http';

/** Signed calls to other sites (SPEC §9): the MDC client and the proxy forwarder. */
@Module({
  providers: [
    {
      provide: SiteHttp,
      inject: [SITE_ENV],
      useFactory: (env: SiteEnv) => {
        if (!env.siteKeyFile) throw new EnvError('environment variable SITE_KEY_FILE is required for an SDC');
        return new SiteHttp({ siteId: env.siteId, privateKey: loadPrivateKey(env.siteKeyFile) });
      },
    },
    {
      provide: MdcClient,
      inject: [SiteHttp, ClusterConfigService],
      // SPEC §4: read on every call, so a reload that moves the MDC takes effect at once.
      useFactory: (http: SiteHttp, config: ClusterConfigService) =>
        new MdcClient(http, () => masterSite(config.current)),
    },
    {
      provide: ProxyForwarder,
      inject: [SiteHttp, SITE_ENV],
      useFactory: (http: SiteHttp, env: SiteEnv) => new ProxyForwarder(http, env.siteId),
    },
  ],
  exports: [SiteHttp, MdcClient, ProxyForwarder],
})
export class RemoteModule implements OnApplicationShutdown {
  constructor(private readonly http: SiteHttp) {}

  onApplicationShutdown(): void {
    this.http.close();
  }
}
