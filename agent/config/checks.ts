// Checks that need more than one section: defaults merged into a host, an
// upstream against Fender's own listeners, host keys against each other. Each
// runs on the sections that passed their schema (sections.ts).
import { BUILTIN_POLICY, type RawPolicy } from './defaults.ts';
import {
  checkListeners,
  ownListenerProblem,
  ownListeners,
  type OwnListener,
} from './listener-checks.ts';
import { mergePolicy } from './merge.ts';
import { problemAt, type ConfigProblem, type PathSegment } from './problems.ts';
import type { PolicyOverrides } from './schema.ts';
import type { Sections } from './sections.ts';
import { parseDuration, parseSize } from './units.ts';
import { HOST_PLACEHOLDER, effectivePort, parseUpstream } from './upstream.ts';

export function checkSections(sections: Sections): ConfigProblem[] {
  const listeners = ownListeners(sections);

  return [
    ...checkListeners(sections, listeners),
    ...checkCacheLimits(sections),
    ...checkPolicies(sections),
    ...checkHostKeys(sections),
    ...checkUpstreams(sections, listeners),
    ...checkWebhooks(sections, listeners),
  ];
}

function checkCacheLimits(sections: Sections): ConfigProblem[] {
  const cache = sections.cache;
  if (cache === undefined || parseSize(cache.maxEntryBytes) <= parseSize(cache.maxBytes)) return [];

  const { maxEntryBytes, maxBytes } = cache;
  const message = `maxEntryBytes (${maxEntryBytes}) must not exceed maxBytes (${maxBytes})`;

  return [problemAt(['cache', 'maxEntryBytes'], message)];
}

// Problems of a merged policy are reported where they can be fixed: at
// `defaults` when they come from there, else at the host that set the field.
function checkPolicies(sections: Sections): ConfigProblem[] {
  if (sections.defaults === undefined) return [];

  const defaults = mergePolicy(BUILTIN_POLICY, sections.defaults);
  // An invalid cache section is reported on its own; only a valid one without a key file counts.
  const keyFileMissing =
    sections.cache !== undefined && sections.cache.privateKeyFile === undefined;
  const problems = policyProblems(['defaults'], defaults, sections.defaults, keyFileMissing);
  for (const host of sections.hosts) {
    if (host.entry === undefined) continue;

    const merged = mergePolicy(defaults, host.entry);
    problems.push(...policyProblems(['hosts', host.rawKey], merged, host.entry, keyFileMissing));
  }

  return problems;
}

function policyProblems(
  at: PathSegment[],
  policy: RawPolicy,
  overrides: PolicyOverrides,
  keyFileMissing: boolean,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const backoff = policy.retry.backoff;
  const setsBackoff =
    overrides.retry?.backoff?.base !== undefined || overrides.retry?.backoff?.max !== undefined;
  if (setsBackoff && parseDuration(backoff.base) > parseDuration(backoff.max)) {
    const message = `base (${backoff.base}) must not exceed max (${backoff.max})`;
    problems.push(problemAt([...at, 'retry', 'backoff'], message));
  }

  if (overrides.cache?.private === 'encrypt' && keyFileMissing) {
    const message =
      '"encrypt" needs cache.privateKeyFile (the secret for encrypted entries); ' +
      'set it, or use "bypass"';
    problems.push(problemAt([...at, 'cache', 'private'], message));
  }

  return problems;
}

function checkHostKeys(sections: Sections): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const seen = new Map<string, string>();
  for (const host of sections.hosts) {
    if (host.key === undefined) continue;

    const first = seen.get(host.key.key);
    if (first !== undefined) {
      const message =
        `same host as ${JSON.stringify(first)} (keys are compared as ${host.key.key}); ` +
        'merge the two entries';
      problems.push(problemAt(['hosts', host.rawKey], message));
    }
    seen.set(host.key.key, host.rawKey);
  }

  return problems;
}

function checkUpstreams(sections: Sections, listeners: readonly OwnListener[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const { rawKey, key, upstream: raw } of sections.hosts) {
    if (key === undefined || raw === undefined) continue;

    const at = ['hosts', rawKey, 'upstream'];
    const upstream = parseUpstream(raw, key.wildcard);
    if (!upstream.ok) {
      problems.push(problemAt(at, upstream.message));
      continue;
    }

    // A templated upstream is checked with a name the wildcard would match.
    const { origin, hostname, port } = upstream.value;
    const example = hostname.replace(HOST_PLACEHOLDER, `any.${key.hostname}`);
    const fix = 'point upstream at the service itself';
    const loop = ownListenerProblem(origin, example, port, listeners, fix);
    if (loop !== undefined) problems.push(problemAt(at, loop));
  }

  return problems;
}

function checkWebhooks(sections: Sections, listeners: readonly OwnListener[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const paths = new Map<string, string>();
  for (const { name, source } of sections.webhookSources) {
    if (source === undefined) continue;

    const at = ['webhooks', 'sources', name];
    const other = paths.get(source.path);
    if (other !== undefined) {
      const message = `${source.path} is already the path of source ${JSON.stringify(other)}`;
      problems.push(problemAt([...at, 'path'], message));
    }
    paths.set(source.path, name);

    const url = new URL(source.deliver.url);
    const fix = 'point it at the application';
    const loop = ownListenerProblem(url.origin, url.hostname, effectivePort(url), listeners, fix);
    if (loop !== undefined) problems.push(problemAt([...at, 'deliver', 'url'], loop));
  }

  return problems;
}
