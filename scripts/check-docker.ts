/**
 * Checks docker/ without a Docker engine (SPEC §11): docker/cluster.yml passes the project's own
 * config parser, and docker/docker-compose.yml and docker/Dockerfile agree with it — every site has
 * its env, mounts, port, key and backing store. Exits non-zero naming each problem.
 *   node -r ts-node/register -r tsconfig-paths/register scripts/check-docker.ts
 */
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parse } from 'yaml';
import { ClusterConfig, loadClusterConfig } from '../libs/cluster-config/src';

const ROOT = resolve(__dirname, '..');
const DOCKER = join(ROOT, 'docker');
const DEMO_TOKEN = 'demo-token-change-me';
const APP_MAIN = { mdc: 'dist/apps/mdc/src/main.js', sdc: 'dist/apps/sdc/src/main.js' } as const;

interface Service {
  image?: string;
  build?: { context?: string; dockerfile?: string };
  command?: string[] | string;
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition?: string }>;
  healthcheck?: { test?: unknown };
}

interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const problems: string[] = [];
function expect(ok: boolean, problem: string): void {
  if (!ok) problems.push(problem);
}

function spkiPem(keyPem: string): string {
  return createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'pem' }).toString();
}

/** host path (relative to docker/) of the bind mount whose container path is `target`, if any */
function bindSource(service: Service, target: string): string | undefined {
  for (const volume of service.volumes ?? []) {
    const [source, into] = volume.split(':');
    if (into === target && (source.startsWith('.') || source.startsWith('/'))) return resolve(DOCKER, source);
  }
  return undefined;
}

function checkDockerfile(): void {
  const text = readFileSync(join(DOCKER, 'Dockerfile'), 'utf8');
  const lines = text.split('\n');
  const from = lines.filter((line) => line.startsWith('FROM '));
  expect(
    from.length >= 2 && from.every((line) => line.startsWith('FROM node:20-bookworm-slim')),
    'Dockerfile: expected a multi-stage build on node:20-bookworm-slim',
  );
  const npmrc = lines.findIndex((line) => line.startsWith('COPY') && line.includes('.npmrc'));
  const ci = lines.findIndex((line) => line.startsWith('RUN') && line.includes('npm ci'));
  expect(npmrc >= 0 && ci > npmrc, 'Dockerfile: .npmrc must be copied before npm ci');
  expect(/RUN .*npm run build/.test(text), 'Dockerfile: no npm run build');
  expect(/npm prune --omit=dev/.test(text), 'Dockerfile: dev dependencies are not pruned');
  expect(text.includes(`CMD ["node", "${APP_MAIN.mdc}"]`), `Dockerfile: CMD should run ${APP_MAIN.mdc}`);
  for (const main of Object.values(APP_MAIN)) {
    const source = main.replace(/^dist\//, '').replace(/\.js$/, '.ts');
    expect(existsSync(join(ROOT, source)), `Dockerfile: ${main} would come from ${source}, which is missing`);
  }
}

function checkSiteService(name: string, service: Service, config: ClusterConfig, compose: Compose): void {
  const env = service.environment ?? {};
  for (const key of ['SITE_ID', 'CLUSTER_CONFIG', 'PORT', 'SITE_KEY_FILE']) {
    expect(Boolean(env[key]), `${name}: environment ${key} is missing`);
  }
  const site = config.sites.find((s) => s.id === env.SITE_ID);
  if (!site) {
    problems.push(`${name}: SITE_ID ${env.SITE_ID} is not a site of docker/cluster.yml`);
    return;
  }
  const role = site.role === 'master' ? 'mdc' : 'sdc';
  const command = Array.isArray(service.command) ? service.command.join(' ') : service.command;
  expect(
    command === `node ${APP_MAIN[role]}`,
    `${name}: a ${site.role} site should run node ${APP_MAIN[role]}`,
  );
  expect(
    service.build?.dockerfile === 'docker/Dockerfile' && service.build.context === '..',
    `${name}: should build docker/Dockerfile from the repository root`,
  );

  // Peers reach the site by its compose service name on its PORT.
  expect(
    site.url === `http://${name}:${env.PORT}`,
    `${name}: cluster.yml url ${site.url} ≠ http://${name}:${env.PORT}`,
  );
  expect(
    (service.ports ?? []).includes(`${env.PORT}:${env.PORT}`),
    `${name}: port ${env.PORT} is not published`,
  );

  const configFile = bindSource(service, env.CLUSTER_CONFIG);
  expect(
    configFile === join(DOCKER, 'cluster.yml'),
    `${name}: CLUSTER_CONFIG is not docker/cluster.yml mounted`,
  );

  const keyFile = bindSource(service, env.SITE_KEY_FILE);
  if (!keyFile || !existsSync(keyFile)) {
    problems.push(`${name}: SITE_KEY_FILE ${env.SITE_KEY_FILE} is not a mounted key file`);
  } else {
    expect(
      keyFile === join(DOCKER, 'keys', `${site.id}.key`),
      `${name}: mounts ${relative(ROOT, keyFile)}, not docker/keys/${site.id}.key`,
    );
    expect(
      site.publicKeys.includes(spkiPem(readFileSync(keyFile, 'utf8'))),
      `${name}: ${relative(ROOT, keyFile)} does not match ${site.id}'s publicKey in cluster.yml`,
    );
  }

  const storeVar = role === 'mdc' ? 'DATABASE_URL' : 'REDIS_URL';
  const storeUrl = env[storeVar];
  if (!storeUrl) {
    problems.push(`${name}: environment ${storeVar} is missing`);
    return;
  }
  const store = new URL(storeUrl).hostname;
  const backing = compose.services[store];
  expect(Boolean(backing), `${name}: ${storeVar} names host ${store}, which is not a service`);
  expect(
    service.depends_on?.[store]?.condition === 'service_healthy',
    `${name}: does not wait for ${store} to be healthy`,
  );
  expect(Boolean(backing?.healthcheck?.test), `${store}: no healthcheck`);
  if (role === 'sdc' && backing) {
    const redisCommand = Array.isArray(backing.command) ? backing.command.join(' ') : backing.command;
    expect(redisCommand === 'redis-server --appendonly yes', `${store}: Redis without AOF persistence`);
  }
  if (role === 'sdc') {
    const master = Object.entries(compose.services).find(
      ([, s]) => s.environment?.SITE_ID === config.sites.find((x) => x.role === 'master')?.id,
    );
    expect(Boolean(master && service.depends_on?.[master[0]]), `${name}: does not depend on the MDC service`);
  }
}

function checkCompose(config: ClusterConfig): void {
  const compose = parse(readFileSync(join(DOCKER, 'docker-compose.yml'), 'utf8'), { merge: true }) as Compose;
  const siteServices = Object.entries(compose.services).filter(([, s]) => s.environment?.SITE_ID);
  const served = siteServices.map(([, s]) => s.environment!.SITE_ID).sort();
  const sites = config.sites.map((s) => s.id).sort();
  expect(
    JSON.stringify(served) === JSON.stringify(sites),
    `compose runs sites [${served}], cluster.yml has [${sites}]`,
  );
  for (const [name, service] of siteServices) checkSiteService(name, service, config, compose);

  const declared = Object.keys(compose.volumes ?? {});
  for (const [name, service] of Object.entries(compose.services)) {
    for (const volume of service.volumes ?? []) {
      const source = volume.split(':')[0];
      if (source.startsWith('.') || source.startsWith('/')) {
        expect(existsSync(resolve(DOCKER, source)), `${name}: mounts ${source}, which does not exist`);
      } else {
        expect(declared.includes(source), `${name}: named volume ${source} is not declared`);
      }
    }
    for (const dependency of Object.keys(service.depends_on ?? {})) {
      expect(dependency in compose.services, `${name}: depends on unknown service ${dependency}`);
    }
  }
  const published = Object.values(compose.services).flatMap((s) => s.ports ?? []);
  expect(new Set(published).size === published.length, 'compose: a host port is published twice');
}

function main(): void {
  let config: ClusterConfig | undefined;
  try {
    config = loadClusterConfig(join(DOCKER, 'cluster.yml'));
  } catch (e) {
    problems.push(e instanceof Error ? e.message : String(e));
  }
  checkDockerfile();
  if (config) {
    const demoHash = createHash('sha256').update(DEMO_TOKEN).digest('hex');
    expect(
      config.admins.some((a) => a.tokenSha256 === demoHash && a.scope === '*'),
      `cluster.yml: no admin with scope * holds the documented demo token "${DEMO_TOKEN}"`,
    );
    checkCompose(config);
  }
  if (problems.length > 0) {
    console.error(`docker/ check failed:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    process.exit(1);
  }
  console.log(
    `docker/ check passed: cluster.yml valid (${config!.sites.length} sites, ${config!.zones.length} zones), ` +
      'compose and Dockerfile consistent with it',
  );
}

main();
