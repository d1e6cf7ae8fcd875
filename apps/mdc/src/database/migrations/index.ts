import { Initial1795385177651 } from './1795385177651-Initial';
import { ZoneAssignments1795923149572 } from './1795923149572-ZoneAssignments';
import { DigestBuckets1795929565944 } from './1795929565944-DigestBuckets';
import { AuditPaging1795956610457 } from './1795956610457-AuditPaging';

/** In order; the MDC applies the pending ones at start. */
export const MIGRATIONS = [
  Initial1795385177651,
  ZoneAssignments1795923149572,
  DigestBuckets1795929565944,
  AuditPaging1795956610457,
];
