/** SPEC §4: the cluster config file, validated at start-up into these types. */

export interface SiteConfig {
  id: string;
  /** exactly one site is the master (runs the MDC); a missing role in the file means 'site' */
  role: 'master' | 'site';
  /** base URL of the site's API, used by peers; no trailing slash */
  url: string;
  /** Ed25519 public keys, PEM (SPEC §9); two while a new key rolls out */
  publicKeys: string[];
}

/** A domain and all its descendants, served by the listed sites (SPEC §4). */
export interface ZoneConfig {
  domain: string;
  sites: string[];
}

/** SPEC §5: at most `max` requests per admin token in a window of `windowMs` (429 `rate_limited` past it). */
export interface RateLimitConfig {
  max: number;
  windowMs: number;
}

export interface AdminConfig {
  name: string;
  /** hex SHA-256 of the bearer token, 64 lowercase characters (SPEC §9) */
  tokenSha256: string;
  /** every domain, or a list of domains each with its descendants (SPEC §9) */
  scope: '*' | string[];
  /** this admin's own limit, in place of `cluster.rateLimit` */
  rateLimit?: RateLimitConfig;
}

export interface ClusterConfig {
  cluster: {
    syncIntervalMs: number;
    submitQueueCapacity: number;
    tombstoneRetentionMs: number;
    /** SPEC §9: how long the MDC still accepts a site's changes for a zone moved away from it */
    zoneMoveGraceMs: number;
    /**
     * SPEC §11 failover without loss: how long a site keeps the changes the MDC acknowledged, to push
     * again a range DomainDB lost in an asynchronous failover
     */
    ackRetentionMs: number;
    /** SPEC §11: a local write is answered once its commit reached this many Redis replicas (0: at once) */
    redisWaitReplicas: number;
    /** how long a local write waits for those replicas before it is answered 503 `store_unavailable` */
    redisWaitTimeoutMs: number;
    /** the limit of every admin token without one of its own; none: no limit */
    rateLimit?: RateLimitConfig;
  };
  masterDomain: string;
  sites: SiteConfig[];
  zones: ZoneConfig[];
  admins: AdminConfig[];
}

/** SPEC §1, §3, §4, §9: the values a file may leave out. */
export const CLUSTER_DEFAULTS: ClusterConfig['cluster'] = Object.freeze({
  syncIntervalMs: 20_000,
  submitQueueCapacity: 10_000,
  tombstoneRetentionMs: 7 * 24 * 60 * 60 * 1000,
  zoneMoveGraceMs: 7 * 24 * 60 * 60 * 1000,
  ackRetentionMs: 60 * 60 * 1000,
  redisWaitReplicas: 0,
  redisWaitTimeoutMs: 1000,
});
export const DEFAULT_MASTER_DOMAIN = 'master';

/** A config file that cannot be used; the message names the file and the bad key (SPEC §4). */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(
    readonly file: string,
    readonly key: string,
    readonly detail: string,
  ) {
    super(`cluster config ${file}: ${key}: ${detail}`);
  }
}
