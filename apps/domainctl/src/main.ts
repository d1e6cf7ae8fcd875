#!/usr/bin/env node
import { CommanderError } from 'commander';
import { buildProgram } from './program';
import { CliError, EXIT } from './exit-codes';

/** Runs one command; prints a failure on stderr and exits with its code (see `domainctl --help`). */
buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    if (err instanceof CommanderError) {
      // commander printed the usage error (or the help: exit 0)
      process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    } else if (err instanceof CliError) {
      process.stderr.write(`domainctl: ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(`domainctl: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = EXIT.usage;
    }
  });
