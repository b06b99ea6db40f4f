#!/usr/bin/env node
// fenderctl: commands a running agent through its control API, and adds the
// sidecar to Kubernetes manifests (`fenderctl inject`).

const USAGE = `usage: fenderctl COMMAND [ARGS] [--url URL] [--token-file FILE] [--json]

commands:
  breakers                             list every host's breaker
  breaker open|close|reset HOST [--for DURATION]
  reload                               reload the agent's config file
  cache purge [--host H] [--prefix P]  remove cache entries
  inject -f FILE|-                     print manifests with the Fender sidecar added
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);

    return command === undefined ? 2 : 0;
  }
  if (command === 'inject') {
    const { runInject } = await import('./inject/cli.ts');

    return runInject(rest, {
      stdin: process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
    });
  }
  const { runCommand } = await import('./cli/commands.ts');

  return runCommand(argv, { stdout: process.stdout, stderr: process.stderr }, USAGE);
}

process.exitCode = await main(process.argv.slice(2));
