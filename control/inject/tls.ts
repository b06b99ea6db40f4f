import { readFileSync, watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';

// The webhook's serving certificate, read from mounted files (a Secret that
// cert-manager or another issuer keeps current) and re-read when they
// change. The kubelet updates a Secret volume by swapping its `..data`
// symlink, so the watch is on the directory, where that rename shows up.
// A slow poll backs the watch up on volumes that send no events.

export interface KeyPair {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** SHA-256 fingerprint of the leaf certificate, for the logs. */
  readonly fingerprint: string;
  /** When the leaf certificate expires. */
  readonly validTo: string;
}

/**
 * Reads and checks a certificate and its key. Throws when a file is missing,
 * unreadable, not PEM, or when the key does not belong to the certificate.
 */
export function readKeyPair(certFile: string, keyFile: string): KeyPair {
  const cert = readFileSync(certFile);
  const key = readFileSync(keyFile);
  // Both throw on bad PEM; createSecureContext also throws when the key
  // does not match the certificate, which a half-finished rotation can leave.
  createSecureContext({ cert, key });
  const leaf = new X509Certificate(cert);

  return { cert, key, fingerprint: leaf.fingerprint256, validTo: leaf.validTo };
}

export interface CertificateWatchOptions {
  readonly certFile: string;
  readonly keyFile: string;
  readonly current: KeyPair;
  /** Called with each new valid pair. */
  readonly onChange: (pair: KeyPair) => void;
  readonly logger: Logger;
  /** Poll interval in milliseconds, as a backstop for missed events (default 60 s). */
  readonly pollMs?: number;
  /** Wait after an event before reading, in milliseconds, so both files of a rotation have landed (default 100 ms). */
  readonly settleMs?: number;
}

/** Follows the certificate files and calls `onChange` when they hold a new valid pair. Returns a stop function. */
export function watchKeyPair(options: CertificateWatchOptions): () => void {
  const { certFile, keyFile, logger } = options;
  let current = options.current;
  let pending: NodeJS.Timeout | undefined;
  let lastProblem: string | undefined;

  const check = () => {
    pending = undefined;
    let next: KeyPair;
    try {
      next = readKeyPair(certFile, keyFile);
    } catch (error) {
      const problem = (error as Error).message;
      // Logged once per distinct problem, so a poll does not repeat it every minute.
      if (problem !== lastProblem) {
        logger.warn(
          { err: error, certFile, keyFile },
          'new TLS certificate not loaded; still serving the previous one',
        );
      }
      lastProblem = problem;

      return;
    }
    lastProblem = undefined;
    if (next.cert.equals(current.cert) && next.key.equals(current.key)) return;

    current = next;
    options.onChange(next);
    logger.info(
      { fingerprint: next.fingerprint, validTo: next.validTo },
      'TLS certificate reloaded',
    );
  };
  const schedule = () => {
    if (pending === undefined) pending = setTimeout(check, options.settleMs ?? 100);
  };

  const watchers: FSWatcher[] = [];
  for (const dir of new Set([dirname(certFile), dirname(keyFile)])) {
    try {
      const watcher = watch(dir, schedule);
      watcher.on('error', (error) =>
        logger.warn({ err: error, dir }, 'certificate directory watch failed; polling only'),
      );
      watchers.push(watcher);
    } catch (error) {
      logger.warn({ err: error, dir }, 'cannot watch the certificate directory; polling only');
    }
  }
  const poll = setInterval(check, options.pollMs ?? 60_000);
  poll.unref();

  return () => {
    clearInterval(poll);
    if (pending !== undefined) clearTimeout(pending);
    for (const watcher of watchers) watcher.close();
  };
}
