import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { validate } from 'dockerfile-utils';
import { afterAll, describe, expect, it } from 'vitest';
import packageJson from '../../package.json' with { type: 'json' };
import { startProcess, waitForStatus, writeAgentConfig } from './agent-process.ts';
import { ROOT } from './kustomize.ts';
import { findTool, skipWithout } from './tools.ts';

// The Dockerfile, without a Docker engine: lint it, check what it copies,
// and run its entrypoint here on exactly the files it copies.

const DOCKERFILE = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const TINI = findTool('tini', 'FENDER_TINI');

interface Instruction {
  readonly keyword: string;
  readonly args: string;
  /** 0 for the first FROM's stage, 1 for the second... */
  readonly stage: number;
}

// Hand-written because dockerfile-ast, the parser inside dockerfile-utils, is
// not a declared dependency. It reads only the forms this Dockerfile uses:
// comments, backslash continuations and one instruction a line.
function instructions(text: string): Instruction[] {
  const joined = text.replace(/\\\n/g, ' ');
  const result: Instruction[] = [];
  let stage = -1;
  for (const line of joined.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const [keyword = '', ...rest] = trimmed.split(/\s+/);
    if (keyword.toUpperCase() === 'FROM') stage += 1;
    result.push({ keyword: keyword.toUpperCase(), args: rest.join(' '), stage });
  }

  return result;
}

const INSTRUCTIONS = instructions(DOCKERFILE);
const FINAL_STAGE = Math.max(...INSTRUCTIONS.map((instruction) => instruction.stage));

function argDefault(name: string): string {
  const arg = INSTRUCTIONS.find(
    (instruction) => instruction.keyword === 'ARG' && instruction.args.startsWith(`${name}=`),
  );

  return arg?.args.slice(name.length + 1) ?? '';
}

/** Context paths the COPY instructions without --from read. */
function copiedFromContext(): string[] {
  return INSTRUCTIONS.filter((i) => i.keyword === 'COPY' && !i.args.includes('--from=')).flatMap(
    (instruction) => {
      const parts = instruction.args.split(/\s+/).filter((part) => !part.startsWith('--'));

      return parts.slice(0, -1);
    },
  );
}

function entrypoint(): string[] {
  const found = INSTRUCTIONS.filter((i) => i.keyword === 'ENTRYPOINT' && i.stage === FINAL_STAGE);
  expect(found).toHaveLength(1);

  return JSON.parse(found[0]?.args ?? '[]') as string[];
}

/**
 * Tells whether .dockerignore keeps `path` in the build context. It reads
 * only the forms that file uses: `*` and `!name` lines, the last match winning.
 */
function kept(path: string): boolean {
  const lines = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  let include = true;
  for (const line of lines) {
    const negated = line.startsWith('!');
    const pattern = (negated ? line.slice(1) : line).replace(/\/$/, '');
    const top = path.replace(/\/$/, '').split('/')[0];
    if (pattern === '*' || pattern === top) include = negated;
  }

  return include;
}

describe('Dockerfile', () => {
  it('passes dockerfile-utils lint', () => {
    expect(validate(DOCKERFILE)).toEqual([]);
    expect(
      validate('FROM node:24\nEXPOSE http\nWORKDIR app\n').length,
      'the linter reports problems',
    ).toBeGreaterThan(0);
  });

  it('builds on Node 24 and runs on distroless', () => {
    expect(argDefault('NODE_IMAGE')).toMatch(/^node:24-/);
    expect(argDefault('RUNTIME_IMAGE')).toMatch(
      /^gcr\.io\/distroless\/nodejs24-debian12(:nonroot)?$/,
    );
    const froms = INSTRUCTIONS.filter((instruction) => instruction.keyword === 'FROM');
    expect(froms.map((from) => from.args)).toEqual(['${NODE_IMAGE} AS deps', '${RUNTIME_IMAGE}']);
  });

  it('installs production dependencies only', () => {
    const runs = INSTRUCTIONS.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    expect(runs.some((run) => /npm ci\b.*--omit=dev/.test(run))).toBe(true);
    const final = INSTRUCTIONS.filter((i) => i.stage === FINAL_STAGE && i.keyword === 'RUN');
    expect(final).toEqual([]);
    const fromDeps = INSTRUCTIONS.filter(
      (i) => i.stage === FINAL_STAGE && i.args.includes('--from=deps'),
    );
    expect(fromDeps.map((i) => i.args)).toContain('--from=deps /app/node_modules ./node_modules');
  });

  it('runs as a numeric non-root user', () => {
    const users = INSTRUCTIONS.filter((i) => i.keyword === 'USER' && i.stage === FINAL_STAGE);
    expect(users).toHaveLength(1);
    const [uid, gid] = (users[0]?.args ?? '').split(':');
    expect(Number(uid)).toBeGreaterThan(0);
    expect(Number(gid)).toBeGreaterThan(0);
  });

  it('starts the agent under tini', () => {
    expect(entrypoint()).toEqual(['/usr/bin/tini', '--', '/nodejs/bin/node', 'bin/fender.ts']);
    expect(DOCKERFILE).toContain('COPY --from=deps /usr/bin/tini-static /usr/bin/tini');
  });

  it('copies files that exist and .dockerignore keeps', () => {
    const copied = copiedFromContext();
    expect(copied).toEqual(
      expect.arrayContaining(['package.json', 'package-lock.json', 'bin', 'agent', 'control']),
    );
    for (const path of copied) {
      expect(existsSync(join(ROOT, path)), path).toBe(true);
      expect(kept(path), `.dockerignore leaves out ${path}`).toBe(true);
    }
    expect(kept('test'), 'tests stay out of the image').toBe(false);
    expect(kept('node_modules'), 'node_modules stays out of the context').toBe(false);
  });
});

/** Lists every `.ts` file under `dir`. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sourceFiles(path);

    return path.endsWith('.ts') ? [path] : [];
  });
}

function runtimeImports(source: string): string[] {
  const patterns = [
    // import x from 'y', import { a } from 'y', export { a } from 'y'; not `import type`, which Node strips.
    /^\s*(?:import|export)\s+(?!type\s)[^'"]*?\sfrom\s+['"]([^'"]+)['"]/gm,
    /^\s*import\s+['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];

  return patterns.flatMap((pattern) =>
    [...source.matchAll(pattern)].map((match) => match[1] ?? ''),
  );
}

function packageOf(specifier: string): string {
  const parts = specifier.split('/');

  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? '');
}

describe('image contents', () => {
  it('needs no dev dependency at run time', () => {
    const production = new Set(Object.keys(packageJson.dependencies));
    const builtins = new Set(builtinModules);
    const files = ['agent', 'control', 'bin'].flatMap((dir) => sourceFiles(join(ROOT, dir)));
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      for (const specifier of runtimeImports(readFileSync(file, 'utf8'))) {
        if (specifier.startsWith('.') || specifier.startsWith('node:') || builtins.has(specifier))
          continue;
        expect(production, `${relative(ROOT, file)} imports ${specifier}`).toContain(
          packageOf(specifier),
        );
      }
    }
  });

  it('finds runtime imports and ignores type imports', () => {
    const source = `import type { A } from 'types-only';\nimport { b, type C } from 'values';\nimport d from 'default';\nexport { e } from 'reexport';\nawait import('lazy');\n`;
    expect(runtimeImports(source).sort()).toEqual(['default', 'lazy', 'reexport', 'values']);
  });
});

/**
 * The image's entrypoint run here: the image paths of tini and node mapped to
 * this machine's, in a directory holding only what the Dockerfile copies.
 * With `withTini: false` the tini prefix is dropped, for machines without it.
 */
function localEntrypoint(imageRoot: string, withTini: boolean): string[] {
  const command = entrypoint().map((part) => {
    if (part === '/usr/bin/tini') return TINI ?? part;
    if (part === '/nodejs/bin/node') return process.execPath;
    if (part.startsWith('bin/')) return join(imageRoot, part);

    return part;
  });

  return withTini ? command : command.slice(2);
}

describe('image entrypoint', () => {
  const imageRoot = mkdtempSync(join(tmpdir(), 'fender-image-'));
  for (const path of copiedFromContext())
    cpSync(join(ROOT, path), join(imageRoot, path), { recursive: true });
  // The repository's node_modules replaces the image's production-only one here.
  symlinkSync(join(ROOT, 'node_modules'), join(imageRoot, 'node_modules'));
  afterAll(() => rmSync(imageRoot, { recursive: true, force: true }));

  async function runAndStop(withTini: boolean): Promise<{ code: number | null; output: string }> {
    const config = await writeAgentConfig('http://127.0.0.1:9');
    // tini warns when it is not PID 1 unless it is registered as a subreaper.
    const agent = startProcess([...localEntrypoint(imageRoot, withTini), '--config', config.path], {
      TINI_SUBREAPER: '1',
    });
    try {
      await waitForStatus(`http://127.0.0.1:${config.ports.metrics}/readyz`, 200, agent);
      agent.child.kill('SIGTERM');
      await waitForStatus(
        `http://127.0.0.1:${config.ports.metrics}/readyz`,
        503,
        agent,
        1500,
      ).catch(() => undefined);
      const code = await Promise.race([
        agent.exit,
        new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 10_000)),
      ]);
      expect(code, agent.output()).not.toBe('timeout');

      return { code: code === 'timeout' ? null : code, output: agent.output() };
    } finally {
      agent.child.kill('SIGKILL');
      config.remove();
    }
  }

  it('starts the agent and drains on SIGTERM', async () => {
    const { code, output } = await runAndStop(false);
    expect(code, output).toBe(0);
    expect(output).toContain('drain finished; exiting');
  });

  it.skipIf(skipWithout(TINI))('forwards SIGTERM through tini', async () => {
    const { code, output } = await runAndStop(true);
    expect(code, output).toBe(0);
    expect(output).toContain('drain finished; exiting');
  });
});
