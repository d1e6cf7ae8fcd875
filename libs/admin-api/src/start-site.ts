import type { DynamicModule } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Logger as Pino } from 'pino';
import { siteById } from '@dd/cluster-config';
import { createSiteApp } from './bootstrap';
import { ClusterConfigService } from './cluster-config.service';
import { messageOf } from './errors';
import { readSiteEnv, SiteEnv } from './site-env';
import { createSiteLogger, logProcessEvents } from './site-logger';

/** SIGHUP reloads the cluster config (SPEC §4): it is no shutdown. */
const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * A site process's `main` (both apps): the logger first, so even a refused start is one JSON line
 * (SPEC §10); then the env, the app, and a line saying it listens — or why it could not start.
 */
export function startSite(title: string, moduleOf: (env: SiteEnv) => DynamicModule): void {
  // the env is not read yet: the site is what SITE_ID says, if anything
  const logger = createSiteLogger(process.env.SITE_ID || null);
  logProcessEvents(logger);
  const start = async () => {
    const env = readSiteEnv();
    logger.level = env.logLevel;
    const app = await createSiteApp(moduleOf(env), title, env, logger);
    closeOnSignals(app, logger);
    const host = process.env.HOST ?? '0.0.0.0';
    await app.listen(env.port, host);
    const role = siteById(app.get(ClusterConfigService).current, env.siteId)?.role;
    logger.info({ context: 'Site', role, host, port: env.port }, `listening on ${host}:${env.port}`);
  };
  start().catch((err: unknown) => {
    logger.fatal({ context: 'Site', err }, `start-up failed: ${messageOf(err)}`);
    process.exit(1);
  });
}

/** How long a shutdown may take before the process ends anyway (an orchestrator's grace is ~30 s). */
export const SHUTDOWN_DEADLINE_MS = 20_000;

/**
 * SPEC §10: a shutdown is logged when its signal arrives and again once the app has closed (open
 * requests answered, stores closed). A repeated signal (a terminal's Ctrl-C reaches npm and the
 * site both) does not cut the close short; a close that has not ended by the deadline is logged and
 * the process ends with status 1.
 */
function closeOnSignals(app: NestFastifyApplication, logger: Pino): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      logger.info({ context: 'Site', signal }, `${signal} received again: already shutting down`);
      return;
    }
    closing = true;
    const started = Date.now();
    logger.info({ context: 'Site', signal }, `${signal} received: shutting down`);
    setTimeout(() => {
      logger.error(
        { context: 'Site', signal, durationMs: Date.now() - started },
        `shutdown did not end within ${SHUTDOWN_DEADLINE_MS} ms: exiting`,
      );
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    app.close().then(
      () => {
        logger.info({ context: 'Site', signal, durationMs: Date.now() - started }, 'shut down');
        // ends as the signal would have, for whoever watches the exit status
        for (const s of SHUTDOWN_SIGNALS) process.removeListener(s, onSignal);
        process.kill(process.pid, signal);
      },
      (err: unknown) => {
        logger.error({ context: 'Site', signal, err }, `shutdown failed: ${messageOf(err)}`);
        process.exit(1);
      },
    );
  };
  for (const signal of SHUTDOWN_SIGNALS) process.on(signal, onSignal);
}
