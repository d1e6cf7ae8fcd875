import { ClusterFiles } from './cluster-files';
import { AdminClient, SiteCaller } from './http';
import { MDC_MAIN, SiteProcess } from './processes';
import { createTestDatabase, TestDatabase } from './services';

/**
 * An MDC as an operator runs it (`node dist/apps/mdc/src/main.js`) on a fresh database of its own.
 * Nest 12 is ESM-only and Jest on Node 20 cannot load it in-process, so every test that needs a
 * running MDC talks to a real child process — which is what an operator sees anyway.
 */
export class TestMdc {
  private constructor(
    readonly files: ClusterFiles,
    readonly db: TestDatabase,
    readonly process: SiteProcess,
  ) {}

  static async start(
    label: string,
    files?: ClusterFiles,
    env: Record<string, string> = {},
  ): Promise<TestMdc> {
    files ??= await ClusterFiles.create({ zones: [{ domain: 'acme', sites: ['site-a'] }] });
    const db = await createTestDatabase(label);
    const proc = SiteProcess.spawn(`mdc(${label})`, MDC_MAIN, {
      ...files.env(files.master.id),
      DATABASE_URL: db.url,
      ...env,
    });
    try {
      await proc.waitReady();
    } catch (err) {
      await proc.kill();
      await db.drop();
      throw err;
    }
    return new TestMdc(files, db, proc);
  }

  get url(): string {
    return this.process.url;
  }

  /** the MDC as a site calls it: its id (which a signed call names, SPEC §9) and its URL */
  get target(): { id: string; url: string } {
    return { id: this.files.master.id, url: this.url };
  }

  admin(token = this.files.token): AdminClient {
    return new AdminClient(this.url, token);
  }

  /** A signed caller acting as `siteId`, signing its calls for this MDC. */
  site(siteId: string): SiteCaller {
    return new SiteCaller(this.target, siteId, this.files.site(siteId).privateKey);
  }

  /** Stops the MDC (its log checked: SiteProcess.stop) and drops its database either way. */
  async stop(): Promise<void> {
    try {
      await this.process.stop();
    } finally {
      await this.db.drop();
    }
  }
}
