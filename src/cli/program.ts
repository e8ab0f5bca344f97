import { Command, CommanderError } from 'commander';
import { AssayApiError } from '@assay/client';
import { registerArtifacts } from './artifacts';
import { EXIT, interrupt, RunFailed, say, UsageError } from './context';
import { registerDatasets } from './datasets';
import { registerJobs } from './jobs';
import { registerLogin } from './login';
import { registerNotebooks } from './notebooks';
import { registerTemplates } from './templates';

/** The service's roles, which the entry point starts (the CLI does not load the server). */
export type ServeRole = 'api' | 'worker';

/** The command line: `serve` and `worker` start the service; every other command calls one. */
export function buildProgram(startService: (role: ServeRole) => Promise<void>): Command {
  const program = new Command('assay')
    .description(
      'Assay: process-mining notebooks and analysis jobs. Without a command: the API and a worker pool in one process.',
    )
    .version(process.env.npm_package_version ?? '0.1.0')
    .showSuggestionAfterError()
    // Usage errors end in an exception (exit code 2), not in process.exit inside commander.
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text), outputError: (text, write) => write(text) });
  program
    .command('serve')
    .description('the API alone; workers run elsewhere against the same DATABASE_URL')
    .action(() => startService('api'));
  program
    .command('worker')
    .description('a worker pool alone, against the shared PostgreSQL in DATABASE_URL')
    .action(() => startService('worker'));
  registerLogin(program);
  registerDatasets(program);
  registerNotebooks(program);
  registerJobs(program);
  registerArtifacts(program);
  registerTemplates(program);
  return program;
}

/** What an error means for the exit code, with its message on standard error. */
function exitCodeOf(err: unknown): number {
  if (err instanceof CommanderError) {
    // --help and --version end with exit code 0; every other commander error is bad usage.
    return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (err instanceof UsageError) {
    say(`assay: ${err.message}`);
    return EXIT.usage;
  }
  if (interrupt.signal.aborted) {
    say('assay: interrupted');
    return EXIT.interrupted;
  }
  if (err instanceof RunFailed) return EXIT.failed;
  if (err instanceof AssayApiError) {
    const code = err.code ? `${err.code}, ` : '';
    say(`assay: ${err.message} (${code}HTTP ${err.status})`);
    const problems = (err.body as { ValidationErrors?: { Field?: string; Message?: string }[] } | undefined)
      ?.ValidationErrors;
    if (Array.isArray(problems)) for (const p of problems) say(`  ${p.Field ?? ''}: ${p.Message ?? ''}`);
    return EXIT.failed;
  }
  say(`assay: ${err instanceof Error ? err.message : String(err)}`);
  return EXIT.failed;
}

/** Runs the command line; resolves the exit code (0 ok, 1 failed run or API error, 2 bad usage, 130 interrupted). */
export async function runCli(argv: string[], startService: (role: ServeRole) => Promise<void>): Promise<number> {
  const onSigint = () => {
    if (interrupt.signal.aborted) process.exit(EXIT.interrupted);
    interrupt.abort();
  };
  const program = buildProgram(startService);
  // The service handles its own signals (a graceful stop); every other command is interrupted by Ctrl-C.
  program.hook('preAction', (_root, action) => {
    if (action.name() !== 'serve' && action.name() !== 'worker') process.on('SIGINT', onSigint);
  });
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    return exitCodeOf(err);
  } finally {
    process.off('SIGINT', onSigint);
  }
}
