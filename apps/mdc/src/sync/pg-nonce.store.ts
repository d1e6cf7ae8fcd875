import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { NonceStore } from '@dd/site-auth';

/** SPEC §9 replay protection shared by every MDC replica: a nonce is new once, cluster-wide. */
@Injectable()
export class PgNonceStore implements NonceStore {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async remember(key: string, ttlMs: number): Promise<boolean> {
    const rows: Array<{ key: string }> = await this.db.query(
      `INSERT INTO site_nonces (key, expires_at) VALUES ($1, now() + $2 * interval '1 millisecond')
       ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE site_nonces.expires_at < now()
       RETURNING key`,
      [key, ttlMs],
    );
    return rows.length === 1;
  }
}
