import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { NonceStore } from '@dd/site-auth';

/**
 * SPEC §9 replay protection shared by every MDC replica: a nonce is new once, cluster-wide.
 *
 * Committed without waiting for the WAL flush (`synchronous_commit` off for this one statement's
 * transaction): every signed call — each push, pull and proxied hop — would otherwise wait for an
 * fsync (issue 15: 3 ms of a proxied GET's time on a busy disk). Every other session sees the nonce
 * at commit as before; only a crash of PostgreSQL itself can lose the last fraction of a second of
 * nonces, and a call captured then would still have to be replayed within its 30 s freshness.
 */
@Injectable()
export class PgNonceStore implements NonceStore {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async remember(key: string, ttlMs: number): Promise<boolean> {
    const rows: Array<{ key: string }> = await this.db.query(
      `INSERT INTO site_nonces (key, expires_at)
       SELECT $1, now() + $2 * interval '1 millisecond'
       FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
       ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE site_nonces.expires_at < now()
       RETURNING key`,
      [key, ttlMs],
    );
    return rows.length === 1;
  }
}
