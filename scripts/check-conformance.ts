import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RecordedResponse } from '../libs/admin-api/src/traffic-recorder';
import { ConformanceChecker, OpenApiDocument } from './conformance';

/**
 * `check-conformance.ts DIR`: the answers recorded in DIR (the sites ran with DD_TRAFFIC_DIR=DIR) held
 * to the committed documents docs/openapi.*.json. Prints `N responses checked, M violations` and
 * each violation; exit code 1 if there is any (or nothing was recorded).
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
  const outside = Object.entries(report.outside).map(([route, n]) => `${route} ${n}`);
  if (outside.length > 0) console.log(`outside the documents (not checked): ${outside.join(', ')}`);
  console.log(`${report.checked} responses checked, ${report.violations.length} violations`);
  if (report.checked === 0) console.log(`nothing recorded in ${dir}: did the sites run with DD_TRAFFIC_DIR?`);
  return report.violations.length > 0 || report.checked === 0 ? 1 : 0;
}

process.exitCode = main(process.argv[2] ?? process.env.DD_TRAFFIC_DIR);
