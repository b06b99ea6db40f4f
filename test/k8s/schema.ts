import {
  PodMonitor,
  PrometheusRule,
} from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { MutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1';
import { DaemonSet, Deployment, ReplicaSet, StatefulSet } from 'kubernetes-models/apps/v1';
import { CronJob, Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Pod, Service, ServiceAccount } from 'kubernetes-models/v1';

// Schema validation of manifests with kubernetes-models: the model built
// from the parsed object checks it against the API's OpenAPI schema. The
// schemas allow unknown fields, as the API server's do, so a misspelt
// optional field passes here.

interface Validatable {
  validate(): void;
}

type ModelClass = new (data: never) => Validatable;

const MODELS: Readonly<Record<string, ModelClass>> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/Pod': Pod,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/DaemonSet': DaemonSet,
  'apps/v1/Deployment': Deployment,
  'apps/v1/ReplicaSet': ReplicaSet,
  'apps/v1/StatefulSet': StatefulSet,
  'batch/v1/CronJob': CronJob,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': MutatingWebhookConfiguration,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

/** Returns the `apiVersion/kind` key of an object. */
export function typeKey(object: unknown): string {
  const record = object as { apiVersion?: unknown; kind?: unknown };

  return `${String(record.apiVersion)}/${String(record.kind)}`;
}

export function hasModel(object: unknown): boolean {
  return typeKey(object) in MODELS;
}

/** Validates `object` against its kind's schema; throws naming the object and the first violations. */
export function validateObject(object: unknown): void {
  const key = typeKey(object);
  const Model = MODELS[key];
  if (Model === undefined) throw new Error(`no schema model for ${key}`);

  try {
    new Model(object as never).validate();
  } catch (error) {
    const name = (object as { metadata?: { name?: string } }).metadata?.name ?? '(unnamed)';
    throw new Error(`${key} ${name} is invalid: ${(error as Error).message}`, { cause: error });
  }
}
