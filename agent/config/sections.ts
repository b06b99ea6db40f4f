// The parts of a file parsed one by one (each listener, each host, each
// webhook source), so that checks across parts run on every part that is
// valid even when another is not, and one run reports every problem.
import { parseHostKey, type HostKey } from './host-key.ts';
import {
  cacheSchema,
  hostSchema,
  listenerSchemas,
  policyOverridesSchema,
  type CacheSection,
  type HostEntry,
  type ListenersSection,
  type PolicyOverrides,
} from './schema.ts';
import { sourceSchema, type SourceSection } from './webhook-schema.ts';

export interface HostSection {
  /** The key as written in the file. */
  readonly rawKey: string;
  readonly key?: HostKey;
  /** The upstream as written, when it is a string, even if the rest of the entry is invalid. */
  readonly upstream?: string;
  readonly entry?: HostEntry;
}

export interface SourceEntry {
  readonly name: string;
  readonly source?: SourceSection;
}

/** The valid parts of a file; a part that failed its schema is undefined. */
export interface Sections {
  readonly listeners: Partial<ListenersSection>;
  readonly defaults?: PolicyOverrides;
  readonly cache?: CacheSection;
  readonly hosts: readonly HostSection[];
  readonly webhooksConfigured: boolean;
  readonly webhookSources: readonly SourceEntry[];
}

export function readSections(file: Record<string, unknown>): Sections {
  const webhooks = isMapping(file.webhooks) ? file.webhooks : {};

  return {
    listeners: readListeners(file.listeners ?? {}),
    defaults: policyOverridesSchema.safeParse(file.defaults ?? {}).data,
    cache: cacheSchema.safeParse(file.cache).data,
    hosts: entriesOf(file.hosts).map(([rawKey, value]) => readHost(rawKey, value)),
    webhooksConfigured: file.webhooks !== undefined,
    webhookSources: entriesOf(webhooks.sources).map(([name, value]) => ({
      name,
      ...optional('source', sourceSchema.safeParse(value).data),
    })),
  };
}

function readListeners(value: unknown): Partial<ListenersSection> {
  if (!isMapping(value)) return {};

  return {
    ...optional('egress', listenerSchemas.egress.safeParse(value.egress).data),
    ...optional('control', listenerSchemas.control.safeParse(value.control).data),
    ...optional('metrics', listenerSchemas.metrics.safeParse(value.metrics).data),
    ...optional('webhooks', listenerSchemas.webhooks.safeParse(value.webhooks).data),
  };
}

function readHost(rawKey: string, value: unknown): HostSection {
  const key = parseHostKey(rawKey);
  const upstream = isMapping(value) ? value.upstream : undefined;

  return {
    rawKey,
    ...optional('key', key.ok ? key.value : undefined),
    ...optional('upstream', typeof upstream === 'string' ? upstream : undefined),
    ...optional('entry', hostSchema.safeParse(value).data),
  };
}

function entriesOf(value: unknown): [string, unknown][] {
  return isMapping(value) ? Object.entries(value) : [];
}

// Leaves the property out rather than setting it to undefined.
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]: V });
}

export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
