import { ReplyError } from 'ioredis';
import ClusterAllFailedError from 'ioredis/built/errors/ClusterAllFailedError';
import MaxRetriesPerRequestError from 'ioredis/built/errors/MaxRetriesPerRequestError';
import { CONNECTION_CLOSED_ERROR_MSG } from 'ioredis/built/utils';
import { ConnectionClosedError } from 'bullmq';
import { socketError } from '@dd/testing';
import { ApiError, QueueFullError } from '@dd/admin-api';
import { NoNodeForSlotError } from './site-redis';
import { isRedisFailure } from './store-failure';

/** SPEC §5: a site whose Redis cannot serve answers 503 `store_unavailable`; anything else is not an outage. */
describe('isRedisFailure', () => {
  it.each([
    ['a connection refused', socketError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:6379')],
    ['a connection reset', socketError('ECONNRESET', 'read ECONNRESET')],
    ['a connect timeout', socketError('ETIMEDOUT', 'connect ETIMEDOUT')],
    ['a closed connection', new Error(CONNECTION_CLOSED_ERROR_MSG)],
    ["BullMQ's closed connection", new ConnectionClosedError(CONNECTION_CLOSED_ERROR_MSG)],
    ['retries given up', new MaxRetriesPerRequestError(0)],
    ['a command timeout (a frozen Redis)', new Error('Command timed out')],
    [
      'no offline queue while disconnected',
      new Error("Stream isn't writeable and enableOfflineQueue options is false"),
    ],
    ['a Redis still loading its data set', new ReplyError('LOADING Redis is loading the dataset in memory')],
    ['a Redis stuck in a script', new ReplyError('BUSY Redis is busy running a script.')],
    [
      'a connect to a name with several addresses',
      new AggregateError([socketError('ECONNREFUSED', 'x')], 'all failed'),
    ],
    [
      'a Redis Cluster whose slots cannot be read',
      new ClusterAllFailedError('Failed to refresh slots cache.', new Error('connect ECONNREFUSED')),
    ],
    [
      'a Redis Cluster not connected, without an offline queue',
      new Error("Cluster isn't ready and enableOfflineQueue options is false"),
    ],
    ['a Redis Cluster none of whose seeds answers', new Error('None of startup nodes is available')],
    ['a Redis Cluster closed', new Error('Cluster is ended.')],
    ['a Redis Cluster slot without a master', new ReplyError('CLUSTERDOWN Hash slot not served')],
    [
      'a Redis Cluster slot being migrated',
      new ReplyError('TRYAGAIN Multiple keys request during rehashing of slot'),
    ],
    ['a Redis Cluster slot that moved', new ReplyError('MOVED 5474 127.0.0.1:7001')],
    [
      'a Redis Cluster redirecting in circles',
      new Error('Too many Cluster redirections. Last error: ReplyError: MOVED 5474 127.0.0.1:7001'),
    ],
    ["a Redis Cluster that knows no master of the site's slot", new NoNodeForSlotError(5474)],
    [
      'an outage as the cause of another error',
      new Error('cycle failed', { cause: new MaxRetriesPerRequestError(1) }),
    ],
  ])('recognises %s', (_, error) => {
    expect(isRedisFailure(error)).toBe(true);
  });

  it.each([
    [
      'a script error',
      new ReplyError('ERR Error running script (call to f_1): attempt to index a nil value'),
    ],
    [
      'keys of several slots in one command (a bug: every key carries the site hash tag)',
      new ReplyError("CROSSSLOT Keys in request don't hash to the same slot"),
    ],
    ['a wrong type', new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value')],
    ['a full queue', new QueueFullError(10_000)],
    ['a refusal', new ApiError('already_exists', 'exists')],
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['a cache that kept moving', new Error('the cache kept moving under a local write (50 attempts)')],
    ['a thrown string', 'Command timed out'],
    ['nothing', undefined],
  ])('does not take %s for an outage', (_, error) => {
    expect(isRedisFailure(error)).toBe(false);
  });
});
