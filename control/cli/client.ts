import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';

// The HTTP side of fenderctl: one request to the control API, with every
// failure turned into a CliError whose message names what failed and what to try.

const REQUEST_TIMEOUT_MS = 10_000;

/** A failure fenderctl reports on stderr; `body` is the API's JSON error, printed with --json. */
export class CliError extends Error {
  readonly body: unknown;

  constructor(message: string, body?: unknown) {
    super(message);
    this.name = 'CliError';
    this.body = body;
  }
}

export interface ApiReply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export class ControlClient {
  readonly url: string;
  private readonly token: string | undefined;
  private readonly dispatcher = new Agent({ connectTimeout: REQUEST_TIMEOUT_MS });

  constructor(url: string, tokenFile: string | undefined) {
    this.url = checkUrl(url);
    this.token = tokenFile === undefined ? undefined : readToken(tokenFile);
  }

  /** Sends one request; resolves with any JSON reply, rejects when there is none. */
  async send(method: 'GET' | 'POST' | 'DELETE', path: string): Promise<ApiReply> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    let status: number;
    let text: string;
    try {
      const response = await request(`${this.url}${path}`, {
        method,
        headers,
        dispatcher: this.dispatcher,
        headersTimeout: REQUEST_TIMEOUT_MS,
        bodyTimeout: REQUEST_TIMEOUT_MS,
      });
      status = response.statusCode;
      text = await response.body.text();
    } catch (error) {
      throw this.unreachable(error);
    }

    return { status, body: this.parse(status, text) };
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }

  private unreachable(error: unknown): CliError {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;

    return new CliError(
      `cannot reach the Fender control API at ${this.url} (${code}): check that the agent is running and that --url names its control listener (listeners.control, default http://127.0.0.1:7701)`,
    );
  }

  private parse(status: number, text: string): Record<string, unknown> {
    try {
      const body: unknown = JSON.parse(text);
      if (typeof body === 'object' && body !== null && !Array.isArray(body))
        return body as Record<string, unknown>;
    } catch {
      // Reported below with the status.
    }

    throw new CliError(
      `${this.url} responded with status ${status} and a body that is not the control API's JSON: check that --url names the control listener, not the egress or metrics port`,
    );
  }
}

function checkUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError(
      `invalid --url ${JSON.stringify(url)}: expected an http URL such as http://127.0.0.1:7701`,
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new CliError(
      `invalid --url ${JSON.stringify(url)}: expected an http or https URL such as http://127.0.0.1:7701`,
    );
  }

  return url.replace(/\/+$/, '');
}

function readToken(tokenFile: string): string {
  let text: string;
  try {
    text = readFileSync(tokenFile, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new CliError(`cannot read --token-file ${tokenFile} (${code})`);
  }
  const token = text.trim();
  if (token === '')
    throw new CliError(
      `--token-file ${tokenFile} is empty: it must hold the token of listeners.control.tokenFile`,
    );

  return token;
}
