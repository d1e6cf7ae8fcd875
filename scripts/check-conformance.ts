import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RecordedResponse } from '../libs/admin-api/src/traffic-recorder';
import { ConformanceChecker, OpenApiDocument } from './conformance';

/**
 * `check-conformance.ts DIR`: the answers recorded in DIR (the sites ran with DD_TRAFFIC_DIR=DIR) held
 * to the committed documents docs/openapi.*.json. Prints each violation, the operation × status pairs
 * seen, the answers whose body was not checked, and `N responses checked, M violations`; exit code 1
 * if there is any violation, or if some document had no answer checked against it.
 */
function main(dir: string | undefined): number {
  if (!dir) {
    console.error('usage: check-conformance.ts TRAFFIC_DIR');
    return 2;
  }
  const docs = join(__dirname, '..', 'docs');
  const documents = readdirSync(docs)
    .filter((file) => /^openapi\..+\.json$/.test(file))
    .map((file) => JSON.parse(readFileSync(join(docs, file), 'utf8')) as OpenApiDocument);
  const recorded = readdirSync(dir)
    .filter((file) => file.endsWith('.ndjson'))
    .flatMap((file) => readFileSync(join(dir, file), 'utf8').split('\n'))
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as RecordedResponse);
  const report = new ConformanceChecker(documents).check(recorded);
  for (const violation of report.violations)
    console.log(`✗ ${violation.response}\n    ${violation.problems.join('\n    ')}`);
  console.log('seen (operation: status×count):');
  for (const [operation, statuses] of Object.entries(report.seen).sort(([a], [b]) => a.localeCompare(b)))
    console.log(
      `  ${operation}: ${Object.entries(statuses)
        .map(([s, n]) => `${s}×${n}`)
        .join(' ')}`,
    );
  const outside = Object.entries(report.outside).map(([route, n]) => `${route} ${n}`);
  if (outside.length > 0) console.log(`outside the documents (not checked): ${outside.join(', ')}`);
  const skipped = Object.entries(report.skipped).map(([reason, n]) => `${reason} ${n}`);
  if (skipped.length > 0) console.log(`checked without their body: ${skipped.join(', ')}`);
  const unchecked = documents.map((d) => d.info.title).filter((title) => !report.checkedBy[title]);
  const counts = documents.map((d) => `${d.info.title} ${report.checkedBy[d.info.title] ?? 0}`);
  console.log(
    `${report.checked} responses checked (${counts.join(', ')}), ${report.violations.length} violations`,
  );
  for (const title of unchecked)
    console.log(`nothing checked against "${title}" in ${dir}: did its sites run with DD_TRAFFIC_DIR?`);
  return report.violations.length > 0 || unchecked.length > 0 ? 1 : 0;
}

process.exitCode = main(process.argv[2] ?? process.env.DD_TRAFFIC_DIR);
