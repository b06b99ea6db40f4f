import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { parseArgs } from 'node:util';
import { injectManifests } from './manifests.ts';
import type { DocumentReport } from './manifests.ts';
import type { InjectOptions } from './mutate.ts';
import { DEFAULT_CLUSTER_DOMAIN, DEFAULT_IMAGE } from './names.ts';
import { checkClusterSettings } from './settings.ts';

// `fenderctl inject`: prints manifests with the Fender sidecar added, like
// `linkerd inject`. The manifests go to stdout and one line per object to
// stderr, so `fenderctl inject -f app.yaml | kubectl apply -f -` works.

const USAGE = `usage: fenderctl inject -f FILE|- [-f FILE ...] [--image IMAGE] [--cluster-domain NAME]

Prints the manifests with the Fender sidecar added to every Pod, Deployment,
StatefulSet, DaemonSet, ReplicaSet, Job and CronJob; other objects are
printed unchanged. Objects annotated fender.dev/inject: "disabled", and pods
that already have a container named fender, are left as they are.

options:
  -f, --filename FILE    a YAML or JSON file of one or more documents; - reads stdin
  --image IMAGE          the sidecar image (default ${DEFAULT_IMAGE})
  --cluster-domain NAME  the cluster's DNS domain, kept out of the proxy (default ${DEFAULT_CLUSTER_DOMAIN})
`;

export interface InjectIo {
  readonly stdin: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

const OPTIONS = {
  filename: { type: 'string', short: 'f', multiple: true },
  image: { type: 'string', default: DEFAULT_IMAGE },
  'cluster-domain': { type: 'string', default: DEFAULT_CLUSTER_DOMAIN },
  help: { type: 'boolean', short: 'h' },
} as const;

async function readSource(file: string, io: InjectIo): Promise<string> {
  if (file === '-') return text(io.stdin);

  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`file not found: ${file}`, { cause: error });
    if (code === 'EISDIR') {
      throw new Error(`${file} is a directory; pass each file with its own -f`, { cause: error });
    }
    throw new Error(`cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
}

function reportLine(report: DocumentReport): string {
  switch (report.status) {
    case 'injected':
      return `${report.object} injected\n`;
    case 'rejected':
      return `warning: ${report.object} not injected: ${report.reason}\n`;
    default:
      return `${report.object} skipped: ${report.reason}\n`;
  }
}

type Parsed = { files: string[]; options: InjectOptions } | { exit: number };

function parseOptions(argv: string[], io: InjectIo): Parsed {
  const usageError = (message: string): Parsed => {
    io.stderr.write(`fenderctl inject: ${message}\n${USAGE}`);

    return { exit: 2 };
  };
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: OPTIONS,
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    return usageError((error as Error).message);
  }
  if (values.help === true) {
    io.stdout.write(USAGE);

    return { exit: 0 };
  }
  const files = values.filename ?? [];
  if (files.length === 0) return usageError('missing -f FILE (use -f - to read stdin)');

  const options: InjectOptions = {
    image: values.image,
    clusterDomain: values['cluster-domain'],
    mode: 'opt-out',
  };
  const invalid = checkClusterSettings(options);
  if (invalid !== undefined) return usageError(invalid);

  return { files, options };
}

/** Runs `fenderctl inject ARGS`; resolves with the exit code: 0 done, 1 unreadable input, 2 usage error. */
export async function runInject(argv: string[], io: InjectIo): Promise<number> {
  const parsed = parseOptions(argv, io);
  if ('exit' in parsed) return parsed.exit;

  const outputs: string[] = [];
  const reports: DocumentReport[] = [];
  for (const file of parsed.files) {
    let source: string;
    try {
      source = await readSource(file, io);
    } catch (error) {
      io.stderr.write(`fenderctl inject: ${(error as Error).message}\n`);

      return 1;
    }
    const result = injectManifests(source, file === '-' ? 'stdin' : file, parsed.options);
    if (!result.ok) {
      for (const message of result.errors) {
        io.stderr.write(`fenderctl inject: invalid YAML in ${message}\n`);
      }

      return 1;
    }
    outputs.push(result.output);
    reports.push(...result.reports);
  }
  // Written only once every file has been read, so a bad file never leaves half a stream on stdout.
  io.stdout.write(outputs.join(''));
  for (const report of reports) io.stderr.write(reportLine(report));

  return 0;
}
