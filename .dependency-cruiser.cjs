/**
 * Layering rules for apps/ and libs/, checked by `npm run lint:layers` (part of `npm run lint`, so of CI).
 *
 * Paths in rules are the *resolved* file paths, relative to the repository root: `@dd/admin-api` resolves
 * (through tsconfig.json's `paths`) to `libs/admin-api/src/index.ts`, a relative import such as
 * `../../../../libs/admin-api/src/headers` to `libs/admin-api/src/headers.ts`; `@nestjs/common` to
 * `node_modules/@nestjs/common/...`; `node:fs` to the core module `fs` (depcruise drops the `node:` prefix).
 * Type-only imports count as dependencies too (tsPreCompilationDeps: true).
 */

// Tests may reach anywhere within their app: the layer rules skip them (the libs/apps rules do not).
const TESTS = '\\.(spec|integration-spec)\\.ts$';

const escapeRegex = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A regex matching the given entries under `root`: a folder ('cache/') or one file ('ops/sdc.metrics.ts'). */
const under = (root, entries) =>
  `^${escapeRegex(root)}(${entries.map((e) => (e.endsWith('/') ? escapeRegex(e) : `${escapeRegex(e)}$`)).join('|')})`;

/**
 * Rules for one app's layers, lowest first; whatever no layer lists is the top layer. A layer must not import
 * any layer above it (one rule per layer), and the folders a layer names as `siblings` must not import each
 * other (one rule per such layer). Tests are exempt.
 */
function layerRules(app, root, layers) {
  const rules = [];
  layers.forEach((layer, i) => {
    const sameOrLower = layers.slice(0, i + 1).flatMap((l) => l.members);
    rules.push({
      name: `${app}-layer-${i}-imports-higher`,
      comment:
        `${app}: layer ${i} (${layer.members.join(', ')}) imports a higher layer. Layers, lowest first: ` +
        `${layers.map((l, j) => `${j} = ${l.members.join(' ')}`).join('; ')}; ${layers.length} = the rest. ` +
        'A lower layer must not know the layers built on it: move the code down, or pass it in from above.',
      severity: 'error',
      from: { path: under(root, layer.members), pathNot: TESTS },
      to: { path: `^${escapeRegex(root)}`, pathNot: under(root, sameOrLower) },
    });
    if (layer.siblings) {
      const group = `^${escapeRegex(root)}(${layer.siblings.map((s) => escapeRegex(s.replace(/\/$/, ''))).join('|')})/`;
      rules.push({
        name: `${app}-layer-${i}-siblings`,
        comment:
          `${app}: ${layer.siblings.join(' and ')} are siblings in layer ${i} and must not import each other; ` +
          'what both need belongs in a lower layer.',
        severity: 'error',
        from: { path: group, pathNot: TESTS },
        to: { path: group, pathNot: `^${escapeRegex(root)}$1/` },
      });
    }
  });
  return rules;
}

module.exports = {
  forbidden: [
    {
      name: 'libs-not-to-apps',
      comment:
        'libs are shared by both apps and must not depend on either: move the code into the lib, or pass it in.',
      severity: 'error',
      from: { path: '^libs/' },
      to: { path: '^apps/' },
    },
    {
      name: 'apps-not-to-other-app',
      comment: 'The MDC and an SDC are separate deployables: code both need belongs in a lib under libs/.',
      severity: 'error',
      from: { path: '^apps/([^/]+)/' },
      to: { path: '^apps/', pathNot: '^apps/$1/' },
    },
    {
      name: 'apps-to-libs-only-via-entry',
      comment:
        "An app imports a lib only through its @dd/<lib> alias, i.e. libs/<lib>/src/index.ts; a lib's other " +
        'files are its internals. Export what is needed from the index and import `@dd/<lib>`.',
      severity: 'error',
      from: { path: '^apps/' },
      to: { path: '^libs/', pathNot: '^libs/[^/]+/src/index\\.ts$' },
    },
    {
      name: 'apps-to-lib-entry-only-via-alias',
      comment:
        "An app names a lib by its @dd/<lib> alias (tsconfig.json's paths), not by a relative path to its index.",
      severity: 'error',
      from: { path: '^apps/' },
      to: { path: '^libs/[^/]+/src/index\\.ts$', dependencyTypesNot: ['aliased-tsconfig'] },
    },
    {
      name: 'directory-lib-not-to-nestjs',
      comment: 'libs/directory is the pure domain model, framework-free: no NestJS.',
      severity: 'error',
      from: { path: '^libs/directory/' },
      to: { path: '(^|/)node_modules/@nestjs/|^@nestjs/' },
    },
    {
      name: 'directory-lib-not-to-other-libs',
      comment:
        'libs/directory is the bottom of the lib graph: the other libs build on it, never the reverse.',
      severity: 'error',
      from: { path: '^libs/directory/' },
      to: { path: '^libs/', pathNot: '^libs/directory/' },
    },
    {
      name: 'directory-lib-no-io',
      comment:
        'libs/directory is pure and deterministic (both sites run the same decisions on it): no file, network, ' +
        'database, cache or queue I/O. Its callers do the I/O and hand it the data.',
      severity: 'error',
      from: { path: '^libs/directory/' },
      to: {
        path: [
          '^(node:)?(fs|net|http|https|http2|tls|dgram|child_process)(/|$)',
          '(^|/)node_modules/(pg|ioredis|typeorm|bullmq)/',
          '^(pg|ioredis|typeorm|bullmq)(/|$)',
        ],
      },
    },
    {
      name: 'libs-nestjs-only-in-admin-api',
      comment:
        'Of the libs, only libs/admin-api (the shared HTTP/NestJS runtime) may use NestJS; the others stay ' +
        'framework-free so they can be used and tested anywhere.',
      severity: 'error',
      from: { path: '^libs/', pathNot: '^libs/admin-api/' },
      to: { path: '(^|/)node_modules/@nestjs/|^@nestjs/' },
    },
    {
      name: 'domainctl-public-api-only',
      comment:
        'apps/domainctl is a plain Node CLI that talks only the public REST API (SPEC §5, §10): no NestJS, ' +
        'and nothing of libs/ (the wire shapes it needs are its own), so it builds and runs on its own.',
      severity: 'error',
      from: { path: '^apps/domainctl/' },
      to: { path: ['(^|/)node_modules/@nestjs/', '^@nestjs/', '^libs/'] },
    },
    {
      name: 'no-circular',
      comment:
        'Import cycles in apps/ or libs/ make load order fragile (undefined at import time) and layers meaningless.',
      severity: 'error',
      from: { path: '^(apps|libs)/' },
      to: { circular: true },
    },

    ...layerRules('sdc', 'apps/sdc/src/', [
      {
        members: ['cache/', 'remote/', 'ops/sdc.metrics.ts', 'ops/metrics.module.ts'],
        siblings: ['cache/', 'remote/'],
      },
      { members: ['sync/'] },
      { members: ['domains/', 'proxy/'], siblings: ['domains/', 'proxy/'] },
      // 3: the rest (app.module.ts, main.ts, ops/health.controller.ts, root *.module.ts)
    ]),
    ...layerRules('mdc', 'apps/mdc/src/', [
      { members: ['database/', 'ops/mdc.metrics.ts'] },
      { members: ['directory/'] },
      { members: ['sync/'] },
      { members: ['cluster/'] },
      // 4: the rest (app.module.ts, main.ts, ops/health.controller.ts)
    ]),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
