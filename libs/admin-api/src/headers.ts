/** SPEC §5: response and request headers of the admin API. */
export const HEADER = {
  servedBy: 'x-served-by',
  syncState: 'x-sync-state',
  waitFor: 'x-wait-for',
  ifMatch: 'if-match',
  requestId: 'x-request-id',
  proxiedBy: 'x-proxied-by',
  /** SPEC §5: reads carry `ETag: "<version>"`; `If-Match` takes it back as is */
  etag: 'etag',
} as const;

export type SyncState = 'synced' | 'pending';
