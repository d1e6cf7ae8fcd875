/**
 * What can be checked of docker/ without a Docker engine (SPEC §11), as a function of the directory so
 * a test can hand it a broken copy: the compose file against the Compose Specification's JSON schema
 * (vendored in docker/schema/, see its README), the cluster config with the project's own parser,
 * and the compose file, the Dockerfile and the cluster config against each other — every site has
 * its env, its config directory, its key, its backing store, a readiness healthcheck and a port
 * published on the loopback interface only.
 */
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { ClusterConfig, loadClusterConfig } from '../libs/cluster-config/src';

export const DEMO_TOKEN = 'demo-token-change-me';
const APP_MAIN = { mdc: 'dist/apps/mdc/src/main.js', sdc: 'dist/apps/sdc/src/main.js' } as const;
/** SPEC §11: the image runs on Node 24 LTS. */
const BASE_IMAGE = 'node:24-bookworm-slim';
/** Where the sites read the cluster config: a mounted directory, so a rename-replace is seen. */
const CONFIG_DIR = '/etc/domain-directory';

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

export interface DockerCheck {
  problems: string[];
  /** one line on what was checked, when nothing failed */
  summary: string;
}

function spkiPem(keyPem: string): string {
  return createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'pem' }).toString();
}

function joined(command: string[] | string | undefined): string | undefined {
  return Array.isArray(command) ? command.join(' ') : command;
}

/** `root`: the repository whose apps the image builds (docker/'s parent, unless a test checks a copy). */
export function checkDocker(dockerDir: string, root = resolve(dockerDir, '..')): DockerCheck {
  const problems: string[] = [];
  const expect = (ok: boolean, problem: string): void => {
    if (!ok) problems.push(problem);
  };

  /** host path of the bind mount whose container path is `target`, if any */
  function bindSource(service: Service, target: string): string | undefined {
    for (const volume of service.volumes ?? []) {
      const [source, into] = volume.split(':');
      if (into === target && (source.startsWith('.') || source.startsWith('/')))
        return resolve(dockerDir, source);
    }
    return undefined;
  }

  function checkDockerfile(): void {
    const text = readFileSync(join(dockerDir, 'Dockerfile'), 'utf8');
    const lines = text.split('\n');
    const from = lines.filter((line) => line.startsWith('FROM '));
    expect(
      from.length >= 2 && from.every((line) => line.startsWith(`FROM ${BASE_IMAGE}`)),
      `Dockerfile: expected a multi-stage build on ${BASE_IMAGE}`,
    );
    const npmrc = lines.findIndex((line) => line.startsWith('COPY') && line.includes('.npmrc'));
    const ci = lines.findIndex((line) => line.startsWith('RUN') && line.includes('npm ci'));
    expect(npmrc >= 0 && ci > npmrc, 'Dockerfile: .npmrc must be copied before npm ci');
    expect(/RUN .*npm run build/.test(text), 'Dockerfile: no npm run build');
    expect(/npm prune --omit=dev/.test(text), 'Dockerfile: dev dependencies are not pruned');
    expect(text.includes(`CMD ["node", "${APP_MAIN.mdc}"]`), `Dockerfile: CMD should run ${APP_MAIN.mdc}`);
    for (const main of Object.values(APP_MAIN)) {
      const source = main.replace(/^dist\//, '').replace(/\.js$/, '.ts');
      expect(
        existsSync(join(root, source)),
        `Dockerfile: ${main} would come from ${source}, which is missing`,
      );
    }
  }

  function checkSchema(document: unknown): void {
    const schema = JSON.parse(readFileSync(join(dockerDir, 'schema', 'compose-spec.json'), 'utf8')) as {
      $schema?: string;
    };
    // The schema names draft-07 by an https URI ajv does not know as a meta-schema; it is draft-07.
    delete schema.$schema;
    const ajv = new Ajv({ allErrors: true, strict: false });
    const validate = ajv.compile(schema);
    if (!validate(document)) {
      for (const error of validate.errors ?? [])
        problems.push(`compose schema: ${error.instancePath || '/'} ${error.message}`);
    }
  }

  function checkSiteService(name: string, service: Service, config: ClusterConfig, compose: Compose): void {
    const env = service.environment ?? {};
    for (const key of ['SITE_ID', 'CLUSTER_CONFIG', 'PORT', 'SITE_KEY_FILE']) {
      expect(Boolean(env[key]), `${name}: environment ${key} is missing`);
    }
    const site = config.sites.find((s) => s.id === env.SITE_ID);
    if (!site) {
      problems.push(`${name}: SITE_ID ${env.SITE_ID} is not a site of config/cluster.yml`);
      return;
    }
    const role = site.role === 'master' ? 'mdc' : 'sdc';
    expect(
      joined(service.command) === `node ${APP_MAIN[role]}`,
      `${name}: a ${site.role} site should run node ${APP_MAIN[role]}`,
    );
    expect(
      service.build?.dockerfile === 'docker/Dockerfile' && service.build.context === '..',
      `${name}: should build docker/Dockerfile from the repository root`,
    );

    // Peers reach the site by its compose service name on its PORT; operators on the host's loopback.
    expect(
      site.url === `http://${name}:${env.PORT}`,
      `${name}: cluster.yml url ${site.url} ≠ http://${name}:${env.PORT}`,
    );
    expect(
      (service.ports ?? []).includes(`127.0.0.1:${env.PORT}:${env.PORT}`),
      `${name}: port ${env.PORT} is not published on 127.0.0.1`,
    );

    // SPEC §10: a site is ready when its own store answers (an SDC stays ready while the MDC is away).
    const probe = joined(service.healthcheck?.test as string[] | string | undefined) ?? '';
    expect(
      probe.includes(`http://127.0.0.1:${env.PORT}/health/ready`),
      `${name}: the healthcheck does not ask /health/ready on port ${env.PORT}`,
    );

    expect(
      env.CLUSTER_CONFIG === `${CONFIG_DIR}/cluster.yml`,
      `${name}: CLUSTER_CONFIG should be ${CONFIG_DIR}/cluster.yml`,
    );
    const configDir = bindSource(service, CONFIG_DIR);
    expect(
      configDir === join(dockerDir, 'config') && statSync(configDir).isDirectory(),
      `${name}: docker/config/ is not mounted as the directory ${CONFIG_DIR} (a file mount misses rename-replaced edits)`,
    );

    const keyFile = bindSource(service, env.SITE_KEY_FILE);
    if (!keyFile || !existsSync(keyFile)) {
      problems.push(`${name}: SITE_KEY_FILE ${env.SITE_KEY_FILE} is not a mounted key file`);
    } else {
      expect(
        keyFile === join(dockerDir, 'keys', `${site.id}.key`),
        `${name}: mounts ${relative(root, keyFile)}, not docker/keys/${site.id}.key`,
      );
      expect(
        site.publicKeys.includes(spkiPem(readFileSync(keyFile, 'utf8'))),
        `${name}: ${relative(root, keyFile)} does not match ${site.id}'s publicKey in cluster.yml`,
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
      expect(
        joined(backing.command) === 'redis-server --appendonly yes',
        `${store}: Redis without AOF persistence`,
      );
    }
    if (role === 'sdc') {
      const master = Object.entries(compose.services).find(
        ([, s]) => s.environment?.SITE_ID === config.sites.find((x) => x.role === 'master')?.id,
      );
      expect(
        Boolean(master && service.depends_on?.[master[0]]),
        `${name}: does not depend on the MDC service`,
      );
    }
  }

  function checkCompose(config: ClusterConfig, compose: Compose): void {
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
          expect(existsSync(resolve(dockerDir, source)), `${name}: mounts ${source}, which does not exist`);
        } else {
          expect(declared.includes(source), `${name}: named volume ${source} is not declared`);
        }
      }
      for (const dependency of Object.keys(service.depends_on ?? {})) {
        expect(dependency in compose.services, `${name}: depends on unknown service ${dependency}`);
      }
      for (const port of service.ports ?? []) {
        expect(port.startsWith('127.0.0.1:'), `${name}: publishes ${port} beyond the loopback interface`);
      }
    }
    const published = Object.values(compose.services).flatMap((s) => s.ports ?? []);
    expect(new Set(published).size === published.length, 'compose: a host port is published twice');
  }

  let config: ClusterConfig | undefined;
  try {
    config = loadClusterConfig(join(dockerDir, 'config', 'cluster.yml'));
  } catch (e) {
    problems.push(e instanceof Error ? e.message : String(e));
  }
  checkDockerfile();
  const compose = parse(readFileSync(join(dockerDir, 'docker-compose.yml'), 'utf8'), {
    merge: true,
  }) as Compose;
  checkSchema(compose);
  if (config) {
    const demoHash = createHash('sha256').update(DEMO_TOKEN).digest('hex');
    expect(
      config.admins.some((a) => a.tokenSha256 === demoHash && a.scope === '*'),
      `cluster.yml: no admin with scope * holds the documented demo token "${DEMO_TOKEN}"`,
    );
    checkCompose(config, compose);
  }
  const summary = config
    ? `docker/ check passed: docker-compose.yml valid against the Compose Specification schema; ` +
      `config/cluster.yml valid (${config.sites.length} sites, ${config.zones.length} zones); ` +
      `compose and Dockerfile consistent with it`
    : '';
  return { problems, summary };
}
