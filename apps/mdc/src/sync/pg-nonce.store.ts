import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { NonceStore } from '@dd/site-auth';

const REMEMBER = `INSERT INTO site_nonces (key, expires_at) VALUES ($1, now() + $2 * interval '1 millisecond')
  ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE site_nonces.expires_at < now()
  RETURNING key`;

/**
 * The same insert committed without waiting for the WAL flush (`synchronous_commit` off for this
 * one statement's transaction, never the session's): every other session sees the nonce at commit
 * as before; only a crash of PostgreSQL itself can lose the last fraction of a second of them.
 */
const REMEMBER_UNFLUSHED = `INSERT INTO site_nonces (key, expires_at)
  SELECT $1, now() + $2 * interval '1 millisecond'
    FROM (SELECT set_config('synchronous_commit', 'off', true)) AS unflushed
  ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE site_nonces.expires_at < now()
  RETURNING key`;

/** SPEC §9 replay protection shared by every MDC replica: a nonce is new once, cluster-wide. */
@Injectable()
export class PgNonceStore implements NonceStore {
  /**
   * For the sync protocol's calls (push, pull, manifest, snapshot, signal): the nonce is not
   * flushed before the call goes on — an fsync saved on every call of the sync cycle (issue 15:
   * most of a light cycle's time went to three of them). Losing a fraction of a second of these
   * nonces to a PostgreSQL crash cannot hurt: a replayed pull, manifest, snapshot or signal only
   * reads, and a replayed push gets its first verdicts from the exactly-once ledger (SPEC §7),
   * which commits with the changes. A proxied admin hop, which may write, keeps `remember`.
   */
  readonly forSiteCalls: NonceStore = {
    remember: (key, ttlMs) => this.insert(REMEMBER_UNFLUSHED, key, ttlMs),
  };

  constructor(@InjectDataSource() private readonly db: DataSource) {}

  remember(key: string, ttlMs: number): Promise<boolean> {
    return this.insert(REMEMBER, key, ttlMs);
  }

  private async insert(sql: string, key: string, ttlMs: number): Promise<boolean> {
    const rows: Array<{ key: string }> = await this.db.query(sql, [key, ttlMs]);
    return rows.length === 1;
  }
}
