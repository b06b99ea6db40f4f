import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';

// Certificates for the webhook tests, and a directory laid out as the
// kubelet lays out a Secret volume, with rotation done the kubelet's way.

export interface Pem {
  readonly cert: string;
  readonly key: string;
}

/** Makes a CA certificate and key, EC P-256 to keep the tests quick. */
export async function makeCa(name = 'fender-test-ca'): Promise<Pem> {
  const pems = await generate([{ name: 'commonName', value: name }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      {
        name: 'keyUsage',
        keyCertSign: true,
        cRLSign: true,
        digitalSignature: true,
        critical: true,
      },
    ],
  });

  return { cert: pems.cert, key: pems.private };
}

/** Makes a serving certificate for the injector's Service name and 127.0.0.1, signed by `ca`. */
export async function makeServingCert(ca: Pem): Promise<Pem> {
  const pems = await generate(
    [{ name: 'commonName', value: 'fender-injector.fender-system.svc' }],
    {
      keyType: 'ec',
      algorithm: 'sha256',
      ca: { cert: ca.cert, key: ca.key },
      extensions: [
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'keyUsage', digitalSignature: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [
            { type: 2, value: 'fender-injector.fender-system.svc' },
            { type: 7, ip: '127.0.0.1' },
          ],
        },
      ],
    },
  );

  return { cert: pems.cert, key: pems.private };
}

/**
 * A Secret volume: `..TIMESTAMP/tls.crt`, `..data -> ..TIMESTAMP` and
 * `tls.crt -> ..data/tls.crt`. `publish` writes a new timestamped directory
 * and renames a fresh symlink over `..data`, then removes the old directory,
 * as the kubelet's atomic writer does.
 */
export class SecretVolume {
  readonly dir = mkdtempSync(join(tmpdir(), 'fender-tls-'));
  readonly certFile = join(this.dir, 'tls.crt');
  readonly keyFile = join(this.dir, 'tls.key');
  private version = 0;
  private current: string | undefined;

  constructor(files: Record<string, string>) {
    this.publish(files);
    symlinkSync('..data/tls.crt', this.certFile);
    symlinkSync('..data/tls.key', this.keyFile);
  }

  publish(files: Record<string, string>): void {
    this.version += 1;
    const name = `..2026_12_01_10_00_0${this.version}.${this.version}`;
    mkdirSync(join(this.dir, name));
    for (const [file, content] of Object.entries(files))
      writeFileSync(join(this.dir, name, file), content);

    const temporary = join(this.dir, '..data_tmp');
    symlinkSync(name, temporary);
    renameSync(temporary, join(this.dir, '..data'));
    if (this.current !== undefined) rmSync(join(this.dir, this.current), { recursive: true });
    this.current = name;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
