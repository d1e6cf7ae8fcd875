import { KeyObject } from 'node:crypto';
import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import {
  ClusterConfig,
  ClusterConfigListener,
  ClusterConfigSource,
  ConfigError,
  siteById,
} from '@dd/cluster-config';
import {
  AdminRecord,
  NonceStore,
  publicKeyFromPem,
  SiteVerification,
  verifySiteRequest,
} from '@dd/site-auth';
import type { AdminRegistry } from './auth';
import { SITE_ENV, SiteEnv } from './site-env';

/** The cluster config in force for this process, reloaded as SPEC §4 says, with this site's view of it. */
@Injectable()
export class ClusterConfigService implements AdminRegistry, OnModuleDestroy {
  private readonly logger = new Logger('ClusterConfig');
  private readonly source: ClusterConfigSource;
  private readonly keys = new WeakMap<ClusterConfig, Map<string, KeyObject[]>>();

  constructor(@Inject(SITE_ENV) private readonly env: SiteEnv) {
    this.source = new ClusterConfigSource(env.configFile, {
      logger: { log: (m) => this.logger.log(m), error: (m) => this.logger.error(m) },
    });
    this.assertKnowsSelf(this.source.current);
    this.source.onChange((next) => {
      if (!siteById(next, env.siteId)) this.logger.error(`SITE_ID ${env.siteId} is not in the new config`);
    });
    this.source.start();
  }

  get current(): ClusterConfig {
    return this.source.current;
  }

  get siteId(): string {
    return this.env.siteId;
  }

  get syncIntervalMs(): number {
    return this.env.syncIntervalMs ?? this.current.cluster.syncIntervalMs;
  }

  admins(): readonly AdminRecord[] {
    return this.current.admins;
  }

  /** SPEC §9: the keys a site's calls are verified with (two while one rolls over). */
  private publicKeysOf(siteId: string): KeyObject[] | undefined {
    const config = this.current;
    let byId = this.keys.get(config);
    if (!byId) {
      byId = new Map(config.sites.map((s) => [s.id, s.publicKeys.map(publicKeyFromPem)]));
      this.keys.set(config, byId);
    }
    return byId.get(siteId);
  }

  /**
   * SPEC §9: verifies a site-to-site call made to this site — signed by a site of the config with
   * its key, and signed for this site: a call captured on its way to another site is refused.
   */
  verifySiteCall(
    request: {
      headers: Record<string, string | string[] | undefined>;
      method: string;
      url: string;
      rawBody?: Buffer;
    },
    nonces: NonceStore,
  ): Promise<SiteVerification> {
    return verifySiteRequest({
      receiver: this.siteId,
      headers: request.headers,
      method: request.method,
      path: request.url,
      body: request.rawBody,
      publicKeysOf: (site) => this.publicKeysOf(site),
      nonces,
    });
  }

  onChange(listener: ClusterConfigListener): () => void {
    return this.source.onChange(listener);
  }

  onModuleDestroy(): void {
    this.source.stop();
  }

  private assertKnowsSelf(config: ClusterConfig): void {
    if (!siteById(config, this.env.siteId)) {
      throw new ConfigError(
        this.env.configFile,
        'sites',
        `SITE_ID ${this.env.siteId} is not one of the sites`,
      );
    }
  }
}
