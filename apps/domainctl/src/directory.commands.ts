import type { Command } from 'commander';
import { ApiRefusedError, domainPath, entitiesPath, entityPath, refusalOf } from './api-client';
import { Context, contextOf, jsonObjectOption, print, printJson } from './context';
import { list, ListOptions, listOptions } from './listing';
import { domainsTable, entitiesTable, fields } from './tables';

const ifMatchHeader = (ifMatch: string | undefined) => (ifMatch ? { 'if-match': ifMatch } : undefined);

function printObject(ctx: Context, object: unknown): void {
  if (ctx.json) printJson(object);
  else print(fields(object as Record<string, unknown>));
}

/** SPEC §10: `domains ls|get|create|rm`. */
export function domainsCommand(program: Command): void {
  const domains = program.command('domains').description('list, read, create and delete domains');

  listOptions(
    domains
      .command('ls')
      .description('list domains by name: every domain, or the children of --parent (from the local tree)')
      .option('--parent <name>', 'only the children of this domain'),
  ).action(async (opts: ListOptions & { parent?: string }, cmd: Command) => {
    await list(contextOf(cmd), '/domains', { parent: opts.parent }, opts, domainsTable);
  });

  domains
    .command('get <name>')
    .description('show one domain')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      printObject(ctx, await ctx.client.ok('GET', domainPath(name)));
    });

  domains
    .command('create <name>')
    .description('create a domain (at a site that serves the name; the zones decide)')
    .option('--parent <name>', 'its parent (its name must end with . + the parent)')
    .option('--settings <json>', 'its settings, a JSON object', jsonObjectOption)
    .action(async (name: string, opts: { parent?: string; settings?: object }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const body = { name, parent: opts.parent, settings: opts.settings };
      printObject(ctx, await ctx.client.ok('POST', '/domains', { body }));
    });

  domains
    .command('rm <name>')
    .description('delete a domain')
    .option(
      '--recursive',
      'with its children and entities (without it, such a domain is refused: has_children)',
    )
    .option('--if-match <version>', 'only if the domain is still at this version')
    .action(async (name: string, opts: { recursive?: boolean; ifMatch?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      await ctx.client.ok('DELETE', domainPath(name), {
        query: { recursive: opts.recursive ? 'true' : undefined },
        headers: ifMatchHeader(opts.ifMatch),
      });
      if (!ctx.json) print(`deleted domain ${name}`);
    });
}

/** SPEC §10: `entities ls|get|set|rm`. */
export function entitiesCommand(program: Command): void {
  const entities = program
    .command('entities')
    .description('list, read, set and delete the entities of a domain');

  listOptions(
    entities
      .command('ls <domain>')
      .description("list a domain's entities by kind, name")
      .option('--kind <kind>', 'only this kind'),
  ).action(async (domain: string, opts: ListOptions & { kind?: string }, cmd: Command) => {
    await list(contextOf(cmd), entitiesPath(domain), { kind: opts.kind }, opts, entitiesTable);
  });

  entities
    .command('get <domain> <kind> <name>')
    .description('show one entity')
    .action(async (domain: string, kind: string, name: string, _opts: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      printObject(ctx, await ctx.client.ok('GET', entityPath(domain, kind, name)));
    });

  entities
    .command('set <domain> <kind> <name>')
    .description(
      'create or update an entity: PATCH its attributes (a JSON merge patch: null removes a key); ' +
        'if the API answers 404 entity_not_found, POST it with these attributes instead. ' +
        'With --if-match only the PATCH is tried',
    )
    .option('--attributes <json>', 'a JSON object (default {})', jsonObjectOption)
    .option('--if-match <version>', 'only if the entity is still at this version')
    .action(
      async (
        domain: string,
        kind: string,
        name: string,
        opts: { attributes?: Record<string, unknown>; ifMatch?: string },
        cmd: Command,
      ) => {
        const ctx = contextOf(cmd);
        const attributes = opts.attributes ?? {};
        const patched = await ctx.client.call('PATCH', entityPath(domain, kind, name), {
          body: { attributes },
          headers: ifMatchHeader(opts.ifMatch),
        });
        if (patched.status < 400) return printObject(ctx, patched.body);
        const refusal = refusalOf(patched);
        if (refusal.code !== 'entity_not_found' || opts.ifMatch) throw new ApiRefusedError(refusal);
        printObject(
          ctx,
          await ctx.client.ok('POST', entitiesPath(domain), { body: { kind, name, attributes } }),
        );
      },
    );

  entities
    .command('rm <domain> <kind> <name>')
    .description('delete an entity')
    .option('--if-match <version>', 'only if the entity is still at this version')
    .action(async (domain: string, kind: string, name: string, opts: { ifMatch?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      await ctx.client.ok('DELETE', entityPath(domain, kind, name), { headers: ifMatchHeader(opts.ifMatch) });
      if (!ctx.json) print(`deleted entity ${kind}/${name} of ${domain}`);
    });
}
