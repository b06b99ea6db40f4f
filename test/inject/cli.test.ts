import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { runInject } from '../../control/inject/cli.ts';
import { DEFAULT_IMAGE, FENDER_VERSION } from '../../control/inject/names.ts';
import packageJson from '../../package.json' with { type: 'json' };

const ROOT = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'fenderctl-inject-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: web:1
`;

const SERVICE = `# keep me
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports: [{port: 80}]
`;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function collect(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));

  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

async function run(args: string[], stdin = ''): Promise<Run> {
  const stdout = collect();
  const stderr = collect();
  const code = await runInject(args, {
    stdin: Readable.from([stdin]),
    stdout: stdout.stream,
    stderr: stderr.stream,
  });

  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);

  return path;
}

function documents(text: string): unknown[] {
  const docs = parseAllDocuments(text, { version: '1.1' });
  for (const doc of docs) expect(doc.errors).toEqual([]);

  return docs.map((doc) => doc.toJS());
}

describe('fenderctl inject', () => {
  it('injects a file given with -f', async () => {
    const result = await run(['-f', file('web.yaml', DEPLOYMENT)]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('- name: fender');
    expect(result.stderr).toBe('deployment/web injected\n');
    const [deployment] = documents(result.stdout) as {
      spec: { template: { spec: { initContainers: { image: string }[] } } };
    }[];
    expect(deployment?.spec.template.spec.initContainers[0]?.image).toBe(DEFAULT_IMAGE);
  });

  it('reads stdin with -f -', async () => {
    const result = await run(['-f', '-'], DEPLOYMENT);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('restartPolicy: Always');
  });

  it('prints every document of a stream', async () => {
    const result = await run(['--filename', '-'], `${DEPLOYMENT}---\n${SERVICE}`);
    expect(result.code).toBe(0);
    const objects = documents(result.stdout) as { kind: string }[];
    expect(objects.map((object) => object.kind)).toEqual(['Deployment', 'Service']);
    expect(result.stdout).toContain('# keep me');
    expect(result.stderr).toBe(
      'deployment/web injected\nservice/web skipped: kind Service has no pod template\n',
    );
  });

  it('concatenates several files', async () => {
    const result = await run(['-f', file('a.yaml', DEPLOYMENT), '-f', file('b.yaml', SERVICE)]);
    expect(result.code).toBe(0);
    expect(documents(result.stdout)).toHaveLength(2);
  });

  it('accepts JSON', async () => {
    const json = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: { containers: [{ name: 'a' }] },
    });
    const result = await run(['-f', '-'], json);
    expect(result.code).toBe(0);
    const [pod] = documents(result.stdout) as { spec: { initContainers: { name: string }[] } }[];
    expect(pod?.spec.initContainers[0]?.name).toBe('fender');
  });

  it('uses --image and --cluster-domain', async () => {
    const result = await run(
      ['-f', '-', '--image', 'registry.example.com/fender:9.9.9', '--cluster-domain=corp.k8s'],
      DEPLOYMENT,
    );
    expect(result.stdout).toContain('image: registry.example.com/fender:9.9.9');
    expect(result.stdout).toContain('value: localhost,127.0.0.1,::1,.svc,.corp.k8s');
  });

  it('warns about a pod it cannot inject', async () => {
    const typo = DEPLOYMENT.replace(
      'labels: {app: web}\n    spec',
      'labels: {app: web}\n      annotations: {fender.dev/inject: "on"}\n    spec',
    );
    const result = await run(['-f', '-'], typo);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(
      'warning: deployment/web not injected: annotation fender.dev/inject is "on"',
    );
    expect(documents(result.stdout)).toEqual(documents(typo));
  });

  it('prints an empty stream for empty input', async () => {
    const result = await run(['-f', '-'], '');
    expect(result).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('exits 1 on invalid YAML with its position', async () => {
    const result = await run(['-f', file('bad.yaml', `${DEPLOYMENT}---\nkind: [unclosed\n`)]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/invalid YAML in .*bad\.yaml: .* at line \d+, column \d+/);
  });

  it('exits 1 on a duplicate key', async () => {
    const result = await run(['-f', '-'], 'kind: Pod\nkind: Service\n');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('invalid YAML in stdin');
  });

  it('exits 1 on a missing file', async () => {
    const result = await run(['-f', join(dir, 'nope.yaml')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`file not found: ${join(dir, 'nope.yaml')}`);
  });

  it('exits 1 on a directory', async () => {
    const result = await run(['-f', dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('is a directory');
  });

  it('prints nothing when a later file fails', async () => {
    const result = await run(['-f', file('ok.yaml', DEPLOYMENT), '-f', join(dir, 'missing.yaml')]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
  });

  it('exits 2 on usage errors', async () => {
    const bad = [
      [],
      ['-f'],
      ['--bogus'],
      ['stray'],
      ['-f', '-', '--image='],
      ['-f', '-', '--cluster-domain=Not A Domain'],
    ];
    for (const args of bad) {
      const result = await run(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toContain('usage: fenderctl inject -f FILE|-');
    }
  });

  it('prints help with --help', async () => {
    const result = await run(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('usage: fenderctl inject');
  });

  it('defaults to the package version as image tag', () => {
    expect(FENDER_VERSION).toBe(packageJson.version);
    expect(DEFAULT_IMAGE).toBe(`fender:${packageJson.version}`);
  });

  it('runs through the fenderctl executable', () => {
    const result = spawnSync(
      process.execPath,
      [join(ROOT, 'control', 'fenderctl.ts'), 'inject', '-f', '-'],
      {
        input: DEPLOYMENT,
        encoding: 'utf8',
        timeout: 15_000,
      },
    );
    expect(result.status).toBe(0);
    expect(result.stderr).toBe('deployment/web injected\n');
    const [deployment] = documents(result.stdout) as {
      spec: { template: { spec: { initContainers: unknown[] } } };
    }[];
    expect(deployment?.spec.template.spec.initContainers).toHaveLength(1);
  });
});
