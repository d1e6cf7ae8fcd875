import { Initial1795385177651 } from './1795385177651-Initial';

/** In order; the MDC applies the pending ones at start. */
export const MIGRATIONS = [Initial1795385177651];
