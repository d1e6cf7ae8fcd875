import { DatabaseError } from 'pg';
import { QueryFailedError } from 'typeorm';
import { socketError } from '@dd/testing';
import { ApiError } from '@dd/admin-api';
import { isPostgresFailure } from './store-failure';

/** A server error as node-postgres raises it, with its SQLSTATE. */
function serverError(code: string, message: string): DatabaseError {
  const error = new DatabaseError(message, message.length, 'error');
  error.code = code;
  return error;
}

/** SPEC §5: an MDC whose DomainDB cannot serve answers 503 `store_unavailable`; anything else is not an outage. */
describe('isPostgresFailure', () => {
  it.each([
    ['a connection refused', socketError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')],
    ['a connection reset', socketError('ECONNRESET', 'read ECONNRESET')],
    ['a connect timeout', socketError('ETIMEDOUT', 'connect ETIMEDOUT 10.0.0.1:5432')],
    ['a connection ended under a query', new Error('Connection terminated unexpectedly')],
    [
      'a connect timeout of the client',
      new Error('Connection terminated due to connection timeout', { cause: new Error('timeout expired') }),
    ],
    ['a pool with no connection to give in time', new Error('timeout exceeded when trying to connect')],
    [
      'a client that lost its connection',
      new Error('Client has encountered a connection error and is not queryable'),
    ],
    [
      'an admin shutdown (57P01)',
      serverError('57P01', 'terminating connection due to administrator command'),
    ],
    [
      'a crash shutdown (57P02)',
      serverError('57P02', 'terminating connection because of crash of another server process'),
    ],
    ['a server starting up (57P03)', serverError('57P03', 'the database system is starting up')],
    ['too many connections (53300)', serverError('53300', 'sorry, too many clients already')],
    ['a connection failure (08006)', serverError('08006', 'connection failure')],
    [
      "TypeORM's wrapping of a shutdown",
      new QueryFailedError(
        'SELECT 1',
        [],
        serverError('57P01', 'terminating connection due to administrator command'),
      ),
    ],
    [
      "TypeORM's wrapping of a terminated connection",
      new QueryFailedError('SELECT 1', [], new Error('Connection terminated unexpectedly')),
    ],
    [
      'a connect to a name with several addresses',
      new AggregateError([socketError('ECONNREFUSED', 'x')], 'all failed'),
    ],
  ])('recognises %s', (_, error) => {
    expect(isPostgresFailure(error)).toBe(true);
  });

  it.each([
    [
      'a unique violation',
      new QueryFailedError(
        'INSERT',
        [],
        serverError('23505', 'duplicate key value violates unique constraint'),
      ),
    ],
    ['a serialization failure', serverError('40001', 'could not serialize access due to concurrent update')],
    ['a missing table', serverError('42P01', 'relation "nope" does not exist')],
    ['a refusal', new ApiError('already_exists', 'exists')],
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['a thrown string', 'Connection terminated unexpectedly'],
    ['nothing', null],
  ])('does not take %s for an outage', (_, error) => {
    expect(isPostgresFailure(error)).toBe(false);
  });
});
