// `fender check --config PATH`: validate a config file without running it.
import { parseArgs } from 'node:util';

import { loadConfigFile } from './load.ts';
import { formatProblem } from './problems.ts';

export interface CheckIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

export const CHECK_USAGE = `usage: fender check --config PATH

Validates a Fender config file and prints every problem with its path in the
file. Exits 0 when the file is valid, 1 when it is not, 2 on a usage error.
`;

/** Runs `fender check` with the arguments after `check`; resolves to the exit code. */
export async function runCheck(argv: readonly string[], io: CheckIo): Promise<number> {
  let values: { config?: string; help?: boolean };
  try {
    values = parseArgs({
      args: [...argv],
      options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    io.stderr.write(`fender check: ${(error as Error).message}\n${CHECK_USAGE}`);

    return 2;
  }

  if (values.help === true) {
    io.stdout.write(CHECK_USAGE);

    return 0;
  }
  if (values.config === undefined || values.config === '') {
    io.stderr.write(`fender check: --config PATH is required\n${CHECK_USAGE}`);

    return 2;
  }

  return reportCheck(values.config, io);
}

async function reportCheck(path: string, io: CheckIo): Promise<number> {
  const result = await loadConfigFile(path);
  if (!result.ok) {
    const count = result.problems.length;
    io.stderr.write(`${path} is invalid (${count} ${count === 1 ? 'problem' : 'problems'}):\n`);
    for (const problem of result.problems) io.stderr.write(`${formatProblem(problem)}\n`);

    return 1;
  }

  const hosts = result.snapshot.hosts.size;
  io.stdout.write(
    `${path} is valid: ${hosts} ${hosts === 1 ? 'host' : 'hosts'}, hash ${result.snapshot.hash}\n`,
  );

  return 0;
}
