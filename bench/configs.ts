// Config files for the proxies under test, written into the run's temp dir:
// Fender's YAML config and an nginx.conf for a foreground, one-worker nginx
// that needs no root and no /var paths.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { stringify } from 'yaml';

export interface FenderPorts {
  readonly egress: number;
  readonly control: number;
  readonly metrics: number;
}

/** One entry under `hosts:` in Fender's config file, as written in the file. */
export type FenderHostEntry = Record<string, unknown>;

/** Builds the config file; `extra` adds top-level sections such as `lifecycle`. */
export function fenderConfigYaml(
  ports: FenderPorts,
  hosts: Readonly<Record<string, FenderHostEntry>>,
  logLevel: string,
  extra: Readonly<Record<string, unknown>> = {},
): string {
  const config = {
    ...extra,
    listeners: {
      egress: { host: '127.0.0.1', port: ports.egress },
      control: { host: '127.0.0.1', port: ports.control },
      metrics: { host: '127.0.0.1', port: ports.metrics },
    },
    log: { level: logLevel },
    hosts,
  };

  return stringify(config);
}

/** A `server` block of the nginx config. */
export interface NginxSite {
  /** `server_name`s; the site is the default server when absent. */
  readonly serverNames?: readonly string[];
  /** Retry a 503 or a connection error on the upstream up to this many attempts in all. */
  readonly attempts?: number;
  /** Serve repeat GETs from nginx's proxy cache (on disk under the temp dir). */
  readonly cache?: boolean;
}

export interface NginxOptions {
  readonly dir: string;
  readonly listenPort: number;
  readonly upstreamPort: number;
  readonly sites: readonly NginxSite[];
}

/** Temp-path directives for the modules this nginx binary was built with. */
function tempPaths(dir: string, nginx: string): string[] {
  let built: string;
  try {
    built = execFileSync(nginx, ['-V'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    built = String((err as { stderr?: string }).stderr ?? '');
  }
  const lines = [
    `client_body_temp_path ${join(dir, 'body')};`,
    `proxy_temp_path ${join(dir, 'proxy')};`,
  ];
  for (const module of ['fastcgi', 'uwsgi', 'scgi']) {
    if (!built.includes(`--without-http_${module}_module`)) {
      lines.push(`${module}_temp_path ${join(dir, module)};`);
    }
  }

  return lines;
}

function upstreamBlocks(upstreamPort: number, maxAttempts: number): string[] {
  const server = `server 127.0.0.1:${upstreamPort} max_fails=0;`;
  // proxy_next_upstream retries on the next server of the block, so the one
  // upstream address is listed once per allowed attempt.
  const retryPeers = Array.from({ length: maxAttempts }, () => `    ${server}`);

  return [
    `  upstream main { ${server} keepalive 128; keepalive_requests 1000000; }`,
    `  upstream retry {`,
    ...retryPeers,
    '    keepalive 128;',
    '    keepalive_requests 1000000;',
    '  }',
  ];
}

function siteBlock(site: NginxSite, listenPort: number): string[] {
  const listen = site.serverNames
    ? `listen 127.0.0.1:${listenPort};`
    : `listen 127.0.0.1:${listenPort} default_server;`;
  const lines = [
    '  server {',
    `    ${listen}`,
    ...(site.serverNames ? [`    server_name ${site.serverNames.join(' ')};`] : []),
    '    location / {',
    `      proxy_pass http://${site.attempts ? 'retry' : 'main'};`,
  ];
  if (site.attempts) {
    lines.push('      proxy_next_upstream error timeout http_503;');
    lines.push(`      proxy_next_upstream_tries ${site.attempts};`);
  }
  if (site.cache) {
    lines.push('      proxy_cache bench;', '      proxy_cache_valid 200 5m;');
    lines.push('      add_header x-cache-status $upstream_cache_status;');
  }
  lines.push('    }', '  }');

  return lines;
}

/**
 * Builds nginx.conf: reverse proxy with upstream keep-alive, 1 worker, no
 * access log, request and response bodies kept in memory (no temp files).
 */
export function nginxConfig(options: NginxOptions, nginx: string): string {
  const { dir } = options;
  const maxAttempts = Math.max(1, ...options.sites.map((site) => site.attempts ?? 1));
  // As root, nginx would switch its worker to `nobody`, which cannot use the temp dir.
  const user = process.getuid?.() === 0 ? ['user root;'] : [];

  return [
    ...user,
    'daemon off;',
    'worker_processes 1;',
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${join(dir, 'error.log')} warn;`,
    'events { worker_connections 4096; }',
    'http {',
    '  access_log off;',
    ...tempPaths(dir, nginx).map((line) => `  ${line}`),
    '  keepalive_requests 1000000;',
    '  server_names_hash_max_size 4096;',
    '  server_names_hash_bucket_size 128;',
    '  client_body_buffer_size 1m;',
    '  proxy_http_version 1.1;',
    '  proxy_set_header Connection "";',
    '  proxy_set_header Host $host;',
    // Stream bodies larger than the buffers to the client instead of spilling them to disk.
    '  proxy_max_temp_file_size 0;',
    ...(options.sites.some((site) => site.cache)
      ? [`  proxy_cache_path ${join(dir, 'cache')} levels=1:2 keys_zone=bench:1m max_size=64m;`]
      : []),
    ...upstreamBlocks(options.upstreamPort, maxAttempts),
    ...options.sites.flatMap((site) => siteBlock(site, options.listenPort)),
    '}',
    '',
  ].join('\n');
}
