// Builds the immutable Snapshot from a file that passed every check.
import { BUILTIN_POLICY, type RawPolicy } from './defaults.ts';
import { resolveConfigPath } from './files.ts';
import { deepFreeze } from './freeze.ts';
import { parseHostKey } from './host-key.ts';
import { mergePolicy } from './merge.ts';
import { UNKNOWN_HOST_KEY, resolvePolicy } from './policy.ts';
import type { ConfigFile } from './schema.ts';
import type { HostPolicy, Snapshot, WebhookSource, WebhooksConfig } from './types.ts';
import { parseDuration as ms, parseSize as bytes } from './units.ts';
import { parseUpstream } from './upstream.ts';
import type { WebhooksSection } from './webhook-schema.ts';

type SourceSection = WebhooksSection['sources'][string];

/** Builds the frozen Snapshot of a valid file; `hash` is the sha256 of the file's bytes. */
export function buildSnapshot(file: ConfigFile, hash: string, source: string): Snapshot {
  const defaults = mergePolicy(BUILTIN_POLICY, file.defaults);
  const hosts = new Map<string, HostPolicy>();
  const effectiveHosts: Record<string, { upstream: string } & RawPolicy> = {};
  for (const [rawKey, entry] of Object.entries(file.hosts)) {
    const { upstream, ...overrides } = entry;
    const hostKey = validated(parseHostKey(rawKey));
    const key = hostKey.key;
    const origin = validated(parseUpstream(upstream, hostKey.wildcard)).origin;
    const policy = mergePolicy(defaults, overrides);
    hosts.set(key, resolvePolicy(key, origin, policy));
    effectiveHosts[key] = { upstream: origin, ...policy };
  }

  const { control } = file.listeners;
  const snapshot: Snapshot = {
    hash,
    source,
    effective: effectiveConfig(file, defaults, effectiveHosts),
    listeners: {
      egress: file.listeners.egress,
      control: {
        host: control.host,
        port: control.port,
        ...(control.tokenFile !== undefined && {
          tokenFile: resolveConfigPath(control.tokenFile, source),
        }),
      },
      metrics: file.listeners.metrics,
    },
    log: file.log,
    lifecycle: {
      drainIdleMs: ms(file.lifecycle.drainIdle),
      drainTimeoutMs: ms(file.lifecycle.drainTimeout),
    },
    unknownHosts: file.unknownHosts,
    // Passthrough hosts have no configured upstream: the request names it.
    defaults: resolvePolicy(UNKNOWN_HOST_KEY, '', defaults),
    limits: file.limits,
    cache: {
      maxEntries: file.cache.maxEntries,
      maxBytes: bytes(file.cache.maxBytes),
      maxEntryBytes: bytes(file.cache.maxEntryBytes),
      ...(file.cache.privateKeyFile !== undefined && {
        privateKeyFile: resolveConfigPath(file.cache.privateKeyFile, source),
      }),
    },
    hosts,
    ...(file.webhooks !== undefined && { webhooks: resolveWebhooks(file, file.webhooks, source) }),
  };

  return deepFreeze(snapshot);
}

function resolveWebhooks(
  file: ConfigFile,
  webhooks: WebhooksSection,
  source: string,
): WebhooksConfig {
  const sources = Object.entries(webhooks.sources).map(
    ([name, section]) => [name, resolveSource(name, section, source)] as const,
  );

  return {
    listener: file.listeners.webhooks,
    journal: resolveConfigPath(webhooks.journal, source),
    sources: new Map(sources),
  };
}

function resolveSource(name: string, section: SourceSection, source: string): WebhookSource {
  const { verify, deliver } = section;
  const secretFiles =
    verify.secretFiles ?? (verify.secretFile === undefined ? [] : [verify.secretFile]);

  return {
    name,
    path: section.path,
    verify: {
      scheme: verify.scheme,
      secretFiles: secretFiles.map((path) => resolveConfigPath(path, source)),
      toleranceMs: ms(verify.tolerance),
      ...(verify.scheme === 'hmac' && {
        hmac: {
          header: verify.header ?? '',
          algorithm: verify.algorithm ?? 'sha256',
          encoding: verify.encoding ?? 'hex',
          prefix: verify.prefix ?? '',
          idHeader: verify.idHeader ?? '',
          ...(verify.timestampHeader !== undefined && { timestampHeader: verify.timestampHeader }),
        },
      }),
    },
    maxBodyBytes: bytes(section.maxBody),
    deliver: {
      url: deliver.url,
      timeoutMs: ms(deliver.timeout),
      attempts: deliver.attempts,
      backoff: {
        baseMs: ms(deliver.backoff.base),
        maxMs: ms(deliver.backoff.max),
        jitter: deliver.backoff.jitter,
      },
    },
    dedupe: { ttlMs: ms(section.dedupe.ttl) },
  };
}

/**
 * Returns the file with every default filled in, for GET /config. Secrets live
 * only in the files the config names, so this contains paths but no secret. A
 * delivery URL's query string is replaced because it may carry a token.
 */
function effectiveConfig(
  file: ConfigFile,
  defaults: RawPolicy,
  hosts: Record<string, unknown>,
): Record<string, unknown> {
  const effective: Record<string, unknown> = { ...file, defaults, hosts };
  if (file.webhooks !== undefined) {
    const sources = Object.entries(file.webhooks.sources).map(([name, section]) => [
      name,
      { ...section, deliver: { ...section.deliver, url: redactQuery(section.deliver.url) } },
    ]);
    effective.webhooks = { ...file.webhooks, sources: Object.fromEntries(sources) };
  }

  return structuredClone(effective);
}

function redactQuery(url: string): string {
  const parsed = new URL(url);
  if (parsed.search === '') return url;

  parsed.search = '?REDACTED';

  return parsed.href;
}

function validated<T>(result: { ok: true; value: T } | { ok: false; message: string }): T {
  // checks.ts rejected every file for which this could fail.
  if (!result.ok) throw new Error(`config passed validation but ${result.message}`);

  return result.value;
}
