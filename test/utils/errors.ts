/** A socket error as Node raises it (`connect ECONNREFUSED …`), for the stores' outage checks. */
export function socketError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, errno: -1, syscall: 'connect' });
}
