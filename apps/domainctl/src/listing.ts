import type { Command } from 'commander';
import { Page, pages, Query } from './api-client';
import { Context, positiveIntOption, print, printJson } from './context';

export interface ListOptions {
  limit?: number;
  after?: string;
  all?: boolean;
}

/** One page of a list, or with `--all` every page from `--after` on; a table says where the next page starts. */
export async function list<T>(
  ctx: Context,
  path: string,
  query: Query,
  opts: ListOptions,
  render: (items: T[]) => string,
): Promise<void> {
  const all: Page<T> = { items: [], next: null };
  for await (const page of pages<T>(ctx.client, path, { ...query, limit: opts.limit, after: opts.after })) {
    all.items.push(...page.items);
    all.next = page.next ?? null;
    if (!opts.all) break;
  }
  if (ctx.json) return printJson(all);
  print(render(all.items));
  if (all.next) process.stderr.write(`more: --after ${all.next} (or --all)\n`);
}

export function listOptions(command: Command): Command {
  return command
    .option('--limit <n>', 'items per page (the API allows 1 to 1000; default 100)', positiveIntOption)
    .option('--after <cursor>', "start after this cursor (a page's `next`)")
    .option('--all', 'follow `next` to the last page');
}
