/** SPEC §5: response and request headers of the admin API. */
export const HEADER = {
  servedBy: 'x-served-by',
  syncState: 'x-sync-state',
  waitFor: 'x-wait-for',
  ifMatch: 'if-match',
  requestId: 'x-request-id',
  proxiedBy: 'x-proxied-by',
} as const;

export type SyncState = 'synced' | 'pending';
