/**
 * Checks docker/ without a Docker engine (SPEC §11; see docker-checks.ts for what is checked).
 * Exits non-zero naming each problem.
 *   node -r ts-node/register -r tsconfig-paths/register scripts/check-docker.ts
 */
import { join, resolve } from 'node:path';
import { checkDocker } from './docker-checks';

const { problems, summary } = checkDocker(join(resolve(__dirname, '..'), 'docker'));
if (problems.length > 0) {
  console.error(`docker/ check failed:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  process.exit(1);
}
console.log(summary);
