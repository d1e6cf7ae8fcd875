import { causedBy, isNetworkFailure, messageText, StoreFailureCheck } from '@dd/admin-api';

/** ioredis's words for a connection that is gone, going, or not answering (and BullMQ's, for a failed job). */
const CONNECTION_GONE = [
  /^Connection is closed\.?$/,
  /^Command timed out$/,
  /^Stream isn't writeable/,
  /^Socket timeout\./,
  /^Reached the max retries per request limit/,
  /^connect ETIMEDOUT$/,
  // a Redis Cluster: not connected (yet), no node reachable, every node gone, redirected in circles
  /^Cluster isn't ready/,
  /^None of startup nodes is available$/,
  /^Cluster is (ended|disconnected|disconnecting)\.$/,
  /^Too many Cluster redirections\./,
];
/**
 * Replies of a Redis that is up but cannot serve: loading its data set, stuck in a script, no
 * master; on a cluster, a slot without a master, being migrated, or owned elsewhere (a reply ioredis
 * did not follow, e.g. inside a pipeline, while the cluster's slots move).
 */
const NOT_SERVING = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|MOVED|ASK) /;
const GIVE_UP_ERRORS = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError', 'NoNodeForSlotError']);

/**
 * SPEC §5: the site's Redis cannot serve — refused, closed, timed out, frozen, still loading — so the
 * request answers 503 `store_unavailable`, never a 500. Any other error (a script error, a bug) is not one.
 */
export const isRedisFailure: StoreFailureCheck = (error) =>
  causedBy(error, (e) => {
    const message = messageText(e);
    return (
      isNetworkFailure(e) ||
      (typeof e.name === 'string' && GIVE_UP_ERRORS.has(e.name)) ||
      CONNECTION_GONE.some((gone) => gone.test(message)) ||
      NOT_SERVING.test(message)
    );
  });
