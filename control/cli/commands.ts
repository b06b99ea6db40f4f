import { parseArgs } from 'node:util';
import type { BreakerView } from '../../agent/control-surface.ts';
import { CliError, ControlClient } from './client.ts';
import type { ApiReply } from './client.ts';
import { breakerTable } from './format.ts';

// fenderctl's control-API commands: breakers, breaker open|close|reset,
// reload and cache purge. Exit codes: 0 done, 1 the command failed, 2 usage.

export interface CommandIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

const DEFAULT_URL = 'http://127.0.0.1:7701';

const OPTIONS = {
  url: { type: 'string', default: DEFAULT_URL },
  'token-file': { type: 'string' },
  json: { type: 'boolean', default: false },
  for: { type: 'string' },
  host: { type: 'string' },
  prefix: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Values = ReturnType<
  typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>
>['values'];

interface Invocation {
  readonly values: Values;
  readonly client: ControlClient;
  readonly io: CommandIo;
}

class UsageError extends Error {}

export async function runCommand(argv: string[], io: CommandIo, usage: string): Promise<number> {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    io.stderr.write(`fenderctl: ${(error as Error).message}\n\n${usage}`);

    return 2;
  }
  if (parsed.values.help) {
    io.stdout.write(usage);

    return 0;
  }
  let client: ControlClient | undefined;
  try {
    const run = commandFor(parsed.positionals, parsed.values);
    client = new ControlClient(parsed.values.url, parsed.values['token-file']);
    await run({ values: parsed.values, client, io });

    return 0;
  } catch (error) {
    return report(error, io, usage, parsed.values.json);
  } finally {
    await client?.close();
  }
}

function report(error: unknown, io: CommandIo, usage: string, json: boolean): number {
  if (error instanceof UsageError) {
    io.stderr.write(`fenderctl: ${error.message}\n\n${usage}`);

    return 2;
  }
  if (!(error instanceof CliError)) throw error;
  if (json && error.body !== undefined) io.stdout.write(`${JSON.stringify(error.body, null, 2)}\n`);
  io.stderr.write(`fenderctl: ${error.message}\n`);

  return 1;
}

type Command = (invocation: Invocation) => Promise<void>;

/** Picks the command and checks its words and flags before anything is sent. */
function commandFor(words: readonly string[], values: Values): Command {
  const [command, sub, host, ...extra] = words;
  const allowFlags = (allowed: readonly ('for' | 'host' | 'prefix')[], name: string) => {
    for (const flag of ['for', 'host', 'prefix'] as const) {
      if (values[flag] !== undefined && !allowed.includes(flag))
        throw new UsageError(`--${flag} does not apply to ${name}`);
    }
  };
  const noMoreWords = (count: number, name: string) => {
    if (words.length > count)
      throw new UsageError(`unexpected argument ${JSON.stringify(words[count])} after ${name}`);
  };
  switch (command) {
    case 'breakers':
      allowFlags([], 'breakers');
      noMoreWords(1, 'breakers');

      return listBreakers;
    case 'breaker': {
      if (sub !== 'open' && sub !== 'close' && sub !== 'reset') {
        throw new UsageError(
          `expected breaker open|close|reset HOST, got ${sub === undefined ? 'nothing' : JSON.stringify(sub)} after breaker`,
        );
      }
      if (host === undefined)
        throw new UsageError(`breaker ${sub} needs a HOST, such as api.example.com`);
      if (extra.length > 0) noMoreWords(3, `breaker ${sub} ${host}`);
      allowFlags(sub === 'reset' ? [] : ['for'], `breaker ${sub}`);

      return (invocation) => changeBreaker(invocation, sub, host);
    }
    case 'reload':
      allowFlags([], 'reload');
      noMoreWords(1, 'reload');

      return reload;
    case 'cache':
      if (sub !== 'purge')
        throw new UsageError(
          `expected cache purge, got ${sub === undefined ? 'nothing' : JSON.stringify(sub)} after cache`,
        );
      allowFlags(['host', 'prefix'], 'cache purge');
      noMoreWords(2, 'cache purge');

      return purgeCache;
    default:
      throw new UsageError(
        command === undefined ? 'missing command' : `unknown command ${JSON.stringify(command)}`,
      );
  }
}

/** Fails with the API's message unless the reply is 2xx. */
function expectOk(reply: ApiReply, client: ControlClient, action: string): Record<string, unknown> {
  if (reply.status >= 200 && reply.status < 300) return reply.body;
  const message =
    typeof reply.body.message === 'string' ? reply.body.message : `status ${reply.status}`;
  switch (reply.status) {
    case 401:
      throw new CliError(
        `${client.url} rejected the request (${message}); pass --token-file with the token of listeners.control.tokenFile`,
        reply.body,
      );
    case 404:
      if (reply.body.error === 'host_not_found') {
        throw new CliError(
          `${action} failed: ${String(reply.body.host)} matches no configured host key; fenderctl breakers lists them`,
          reply.body,
        );
      }
      throw new CliError(`${action} failed: ${message}`, reply.body);
    case 422: {
      const problems = Array.isArray(reply.body.problems)
        ? reply.body.problems.map((problem) => `\n  ${String(problem)}`).join('')
        : '';
      throw new CliError(`${action} failed: ${message}${problems}`, reply.body);
    }
    default:
      throw new CliError(`${action} failed: ${message}`, reply.body);
  }
}

function print(invocation: Invocation, body: unknown, text: string): void {
  invocation.io.stdout.write(invocation.values.json ? `${JSON.stringify(body, null, 2)}\n` : text);
}

async function listBreakers(invocation: Invocation): Promise<void> {
  const body = expectOk(
    await invocation.client.send('GET', '/breakers'),
    invocation.client,
    'listing breakers',
  );
  const breakers = body.breakers as BreakerView[];
  print(invocation, body, breakerTable(breakers, Date.now()));
}

async function changeBreaker(
  invocation: Invocation,
  action: 'open' | 'close' | 'reset',
  host: string,
): Promise<void> {
  const query =
    invocation.values.for === undefined ? '' : `?for=${encodeURIComponent(invocation.values.for)}`;
  const path = `/breakers/${encodeURIComponent(host)}/${action}${query}`;
  const reply = await invocation.client.send('POST', path);
  const view = expectOk(
    reply,
    invocation.client,
    `breaker ${action} ${host}`,
  ) as unknown as BreakerView;
  print(invocation, view, `${view.host}: ${describeBreaker(view)}\n`);
}

function describeBreaker(view: BreakerView): string {
  if (view.mode === 'auto') return `auto, ${view.state}`;
  const forced = view.mode === 'forced_open' ? 'forced open' : 'forced closed';

  return view.overrideUntil === null
    ? `${forced} until reset`
    : `${forced} until ${view.overrideUntil}`;
}

async function reload(invocation: Invocation): Promise<void> {
  const body = expectOk(
    await invocation.client.send('POST', '/config/reload'),
    invocation.client,
    'config reload',
  );
  const text =
    body.changed === true
      ? `config reloaded: hash ${String(body.previousHash)} -> ${String(body.hash)}\n`
      : `config unchanged: hash ${String(body.hash)}\n`;
  print(invocation, body, text);
}

async function purgeCache(invocation: Invocation): Promise<void> {
  const { host, prefix } = invocation.values;
  const params = new URLSearchParams();
  if (host !== undefined) params.set('host', host);
  if (prefix !== undefined) params.set('prefix', prefix);
  const query = params.size === 0 ? '' : `?${params.toString()}`;
  const body = expectOk(
    await invocation.client.send('DELETE', `/cache${query}`),
    invocation.client,
    'cache purge',
  );
  const scope = `${host ?? 'every host'}${prefix === undefined ? '' : ` under ${prefix}`}`;
  const purged = Number(body.purged);
  print(
    invocation,
    body,
    `purged ${purged} cache ${purged === 1 ? 'entry' : 'entries'} for ${scope}\n`,
  );
}
