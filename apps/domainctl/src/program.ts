import { Command } from 'commander';
import { DEFAULT_SITE } from './context';
import { domainsCommand, entitiesCommand } from './directory.commands';
import { EXIT_CODES_HELP } from './exit-codes';
import { opsCommands } from './ops.commands';
import { transferCommands } from './transfer.commands';

/** SPEC §10: the operator's CLI over one site's admin REST API (SPEC §5). */
export function buildProgram(): Command {
  const program = new Command('domainctl')
    .description("the domain directory cluster's operator CLI: talks to a site's admin REST API (/api/v1)")
    .option(
      '--site <url>',
      'base URL of the site to talk to (env DOMAINCTL_SITE)',
      process.env.DOMAINCTL_SITE || DEFAULT_SITE,
    )
    .option('--json', "print the API's JSON instead of tables")
    .option('--wait-for-mdc', "writes at a work site wait for the MDC's verdict (X-Wait-For: mdc)")
    .addHelpText(
      'after',
      `
Environment:
  DOMAINCTL_TOKEN  the admin's bearer token
  DOMAINCTL_SITE   the default --site (else ${DEFAULT_SITE})
${EXIT_CODES_HELP}`,
    )
    .showHelpAfterError('(domainctl --help for usage)')
    .exitOverride();
  domainsCommand(program);
  entitiesCommand(program);
  transferCommands(program);
  opsCommands(program);
  return program;
}
