#!/usr/bin/env node
/**
 * Runs jest where it can load NestJS 12 (ESM-only) in-process, for the provider tests: Node ≥ 24.9
 * with `--experimental-vm-modules` (jest's require(esm) support). On an older Node (the machines'
 * Node 20) jest itself runs on Node 24 from the npm registry's `node` package, while the apps the
 * end-to-end tests start keep running on this machine's Node (DD_APP_NODE, read by test/harness).
 */
const { spawnSync } = require('node:child_process');

const [major, minor] = process.versions.node.split('.').map(Number);
const native = major > 24 || (major === 24 && minor >= 9);
const jest = require.resolve('jest/bin/jest');
const args = process.argv.slice(2);
const env = {
  ...process.env,
  DD_APP_NODE: process.env.DD_APP_NODE || process.execPath,
  NODE_OPTIONS: [
    process.env.NODE_OPTIONS,
    '--experimental-vm-modules',
    '--disable-warning=ExperimentalWarning',
  ]
    .filter(Boolean)
    .join(' '),
};
if (!native)
  console.error(
    `jest: Node ${process.versions.node} cannot load NestJS 12 inside jest; running jest on Node 24 (npx -p node@24)`,
  );
const [command, commandArgs] = native
  ? [process.execPath, [jest, ...args]]
  : ['npx', ['--yes', '-p', 'node@24', 'node', jest, ...args]];
const result = spawnSync(command, commandArgs, { stdio: 'inherit', env });
process.exit(result.status ?? 1);
