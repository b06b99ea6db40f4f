import { z } from 'zod';
import type { InjectOptions } from './mutate.ts';
import { templatePatch } from './patch.ts';
import { isRecord } from './object-path.ts';
import { injectWorkload } from './workloads.ts';

// One AdmissionReview (admission.k8s.io/v1) in, one out. A review that
// cannot be read gets an error response naming the problem: HTTP 400 with
// `allowed: false`, so the API server applies the webhook's failurePolicy.

const API_VERSION = 'admission.k8s.io/v1';

const reviewSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('AdmissionReview'),
  request: z.looseObject({
    uid: z.string().min(1),
    kind: z.looseObject({ kind: z.string() }),
    operation: z.string(),
    namespace: z.string().optional(),
    object: z.unknown(),
  }),
});

export interface ReviewOutcome {
  /** HTTP status for the response. */
  readonly status: 200 | 400;
  readonly body: AdmissionReviewResponse;
  /** Fields for the log line of this review. */
  readonly log: Readonly<Record<string, unknown>>;
}

export interface AdmissionReviewResponse {
  readonly apiVersion: typeof API_VERSION;
  readonly kind: 'AdmissionReview';
  readonly response: {
    readonly uid: string;
    readonly allowed: boolean;
    readonly patchType?: 'JSONPatch';
    /** Base64 of the JSON Patch document. */
    readonly patch?: string;
    readonly warnings?: readonly string[];
    readonly status?: { readonly code: number; readonly message: string };
  };
}

function respond(response: AdmissionReviewResponse['response']): AdmissionReviewResponse {
  return { apiVersion: API_VERSION, kind: 'AdmissionReview', response };
}

function uidOf(body: unknown): string {
  const request = isRecord(body) ? body['request'] : undefined;
  const uid = isRecord(request) ? request['uid'] : undefined;

  return typeof uid === 'string' ? uid : '';
}

function malformed(body: unknown, message: string): ReviewOutcome {
  const uid = uidOf(body);

  return {
    status: 400,
    body: respond({ uid, allowed: false, status: { code: 400, message } }),
    log: { uid, result: 'malformed', reason: message },
  };
}

function describeObject(object: unknown): string {
  const metadata = isRecord(object) && isRecord(object['metadata']) ? object['metadata'] : {};
  const name = metadata['name'];
  const generateName = metadata['generateName'];
  if (typeof name === 'string' && name !== '') return name;

  return typeof generateName === 'string' ? `${generateName}*` : '(unnamed)';
}

/** Reads the raw request body of the webhook and returns the response to send. */
export function reviewAdmission(raw: string, options: InjectOptions): ReviewOutcome {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch (error) {
    return malformed(undefined, `the request body is not JSON: ${(error as Error).message}`);
  }
  const parsed = reviewSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined ? '' : `${issue.path.join('.') || '(root)'}: `;

    return malformed(
      body,
      `not an ${API_VERSION} AdmissionReview: ${where}${issue?.message ?? 'invalid'}`,
    );
  }

  const { request } = parsed.data;
  const log = {
    uid: request.uid,
    operation: request.operation,
    kind: request.kind.kind,
    namespace: request.namespace,
    name: describeObject(request.object),
  };
  if (request.operation !== 'CREATE') {
    return {
      status: 200,
      body: respond({ uid: request.uid, allowed: true }),
      log: { ...log, result: 'skipped', reason: 'only CREATE is mutated' },
    };
  }

  // The object's kind field may be absent in a review; the request names it.
  const object = isRecord(request.object)
    ? { ...request.object, kind: request.kind.kind }
    : request.object;
  const result = injectWorkload(object, options);
  if (result.status !== 'injected') {
    const warnings =
      result.status === 'rejected' ? [`fender sidecar not injected: ${result.reason}`] : undefined;

    return {
      status: 200,
      body: respond({
        uid: request.uid,
        allowed: true,
        ...(warnings === undefined ? {} : { warnings }),
      }),
      log: { ...log, result: result.status, reason: result.reason },
    };
  }

  const operations = templatePatch(object, result.object, result.path);
  const patch = Buffer.from(JSON.stringify(operations)).toString('base64');

  return {
    status: 200,
    body: respond({ uid: request.uid, allowed: true, patchType: 'JSONPatch', patch }),
    log: { ...log, result: 'injected', operations: operations.length },
  };
}
