// The Helm chart (charts/kubeff) checked with the real tools: `helm lint`, `helm template` with the
// default values and with each variant (GPU pool, ingress + TLS with every issuer choice, external
// NATS, HA, monitoring), every rendered object accepted by the real API server
// (`kubectl apply --dry-run=server`, strict field validation) in a namespace that enforces and
// warns on the "restricted" Pod Security Standard, the values schema refusing misspelled keys and
// wrong types, the chart's RBAC checked with `kubectl auth can-i`, and the worker pods that the
// operator builds from the chart's settings passing "restricted" too.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crdFileName } from '../../crds/src/crd.ts';
import { buildJob, type JobBuilderSettings, type MediaJobObject } from '../../operator/src/job-builder.ts';
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.ts';
import { chartDir, containerEnv, find, helm, kubeVersion, objects, repoRoot, template, valuesFile, type KubeObject } from './helm.ts';

const ns = 'kubeff';
let cp: ControlPlane;

beforeAll(async () => {
  cp = await startControlPlane({ scheduler: false });
  const steps: string[][] = [
    ['create', 'namespace', ns],
    // Pods that break "restricted" are refused; workload templates that would are reported as warnings.
    ['label', 'namespace', ns, 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/warn=restricted', 'pod-security.kubernetes.io/audit=restricted'],
    // The MediaJob CRD first (the chart's copy, as `helm install` would), then the stand-ins for
    // cert-manager's and the Prometheus Operator's CRDs, which this control plane does not have.
    ['apply', '-f', join(chartDir, 'crds', crdFileName)],
    ['apply', '-f', join(import.meta.dirname, 'stand-in-crds.yaml')],
    ['wait', '--for=condition=Established', '--timeout=60s', 'crd/mediajobs.kubeff.io', 'crd/issuers.cert-manager.io', 'crd/certificates.cert-manager.io', 'crd/servicemonitors.monitoring.coreos.com'],
  ];
  for (const args of steps) {
    const r = await cp.kubectl(args, { timeoutMs: 70_000 });
    expect(r.code, `kubectl ${args.join(' ')}: ${r.stderr}`).toBe(0);
  }
}, 180_000);
afterAll(async () => cp?.stop());

/** Server-side dry run of a manifest stream in the restricted namespace; Pod Security warnings are failures. */
async function dryRun(manifests: string): Promise<void> {
  const r = await cp.kubectl(['apply', '--dry-run=server', '--validate=strict', '-n', ns, '-f', '-'], { input: manifests, timeoutMs: 90_000 });
  expect(r.code, `the API server refused the rendered chart:\n${r.stderr}`).toBe(0);
  const warnings = r.stderr.split('\n').filter((l) => /warning/i.test(l));
  expect(warnings, 'the API server warned (Pod Security "restricted", deprecated APIs, unknown fields)').toEqual([]);
}

async function render(values: unknown): Promise<{ text: string; objs: KubeObject[] }> {
  const r = await template(values);
  expect(r.code, `helm template failed:\n${r.stderr}`).toBe(0);
  return { text: r.stdout, objs: objects(r.stdout) };
}

// What the operator's entrypoint (operator/src/main.ts) makes of its environment: the worker pod
// settings the chart feeds it.
function workerSettings(env: Record<string, string>): JobBuilderSettings {
  const json = <T>(name: string, def: T): T => (env[name] ? (JSON.parse(env[name]) as T) : def);
  return {
    image: env['KUBEFF_WORKER_IMAGE'] ?? '',
    serviceAccountName: env['KUBEFF_WORKER_SERVICE_ACCOUNT'] ?? '',
    storageClaimName: env['KUBEFF_STORAGE_CLAIM'] ?? '',
    storageSecretName: env['KUBEFF_STORAGE_SECRET'],
    natsUrl: env['NATS_URL'],
    priorityClassNames: json('KUBEFF_PRIORITY_CLASSES', {}),
    cpuPool: json('KUBEFF_CPU_POOL', {}),
    gpuPool: json('KUBEFF_GPU_POOL', { resourceName: 'nvidia.com/gpu' }),
    maxAttempts: Number(env['KUBEFF_MAX_ATTEMPTS']),
    defaultDeadlineSeconds: Number(env['KUBEFF_JOB_DEADLINE_SECONDS']),
    ttlSecondsAfterFinished: Number(env['KUBEFF_JOB_TTL_SECONDS']),
    defaultResources: { cpu: Number(env['KUBEFF_DEFAULT_CPU']), memoryGb: Number(env['KUBEFF_DEFAULT_MEMORY_GB']) },
  };
}

function mediaJob(name: string, acceleration: 'auto' | 'nvenc', priority: 'high' | 'normal' | 'low' = 'normal'): MediaJobObject {
  return {
    apiVersion: 'kubeff.io/v1alpha1',
    kind: 'MediaJob',
    metadata: { name, namespace: ns, uid: '00000000-0000-4000-8000-000000000001' },
    spec: {
      type: 'convert',
      input: { path: '/storage/in.mp4' },
      output: { path: `/storage/${name}.mp4`, format: 'mp4' },
      operations: [],
      options: { priority, hardwareAcceleration: acceleration },
    } as MediaJobObject['spec'],
  };
}

const tolerations = [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }];
const ingress = (issuer: Record<string, unknown>) => ({ ingress: { enabled: true, className: 'nginx', host: 'kubeff.example.com', tls: { enabled: true, issuer } } });
const annotations = (o: KubeObject) => o.metadata.annotations ?? {};
const env = (objs: KubeObject[], suffix: string) => containerEnv(find(objs, 'Deployment', suffix));

type Variant = [string, Record<string, unknown>, (objs: KubeObject[]) => void];
const variants: Variant[] = [
  ['default values', {}, (objs) => {
    const kinds = objs.map((o) => `${o.kind}/${o.metadata.name}`);
    for (const k of ['Deployment/kubeff-gateway', 'Deployment/kubeff-operator', 'StatefulSet/kubeff-nats', 'Service/kubeff-gateway', 'Service/kubeff-operator-metrics', 'PersistentVolumeClaim/kubeff-storage', 'Secret/kubeff-api-keys', 'ServiceAccount/kubeff-worker', 'ClusterRole/kubeff-operator', 'Role/kubeff-gateway', 'Role/kubeff-operator-leader', 'PodDisruptionBudget/kubeff-gateway']) {
      expect(kinds, `the default render lacks ${k}`).toContain(k);
    }
    expect(objs.filter((o) => o.kind === 'NetworkPolicy').map((o) => o.metadata.name).sort()).toEqual(['kubeff-gateway', 'kubeff-nats', 'kubeff-operator', 'kubeff-worker']);
    expect(kinds.filter((k) => /^(Ingress|HorizontalPodAutoscaler|ServiceMonitor|Issuer|Certificate|PriorityClass)\//.test(k)), 'optional objects rendered by default').toEqual([]);
    expect((find(objs, 'PersistentVolumeClaim', 'storage').spec as { accessModes: string[] }).accessModes).toEqual(['ReadWriteMany']);
    const admin = Buffer.from(find(objs, 'Secret', 'api-keys').data?.['admin-keys'] ?? '', 'base64').toString();
    expect(admin, 'a generated admin key looks like kff_<id>_<secret>').toMatch(/^kff_[a-z0-9]{12}_[A-Za-z0-9]{32}$/);
    const gw = env(objs, 'gateway');
    expect(gw).toMatchObject({ KUBEFF_MODE: 'cluster', KUBEFF_NAMESPACE: ns, NATS_URL: 'nats://kubeff-nats.kubeff.svc:4222', PORT: '8000', KUBEFF_STORAGE_ROOT: '/storage', KUBEFF_DATA_DIR: '/var/lib/kubeff', KUBEFF_MAX_UPLOAD_BYTES: '10737418240' });
    const op = env(objs, 'operator');
    expect(op).toMatchObject({ KUBEFF_WORKER_IMAGE: 'ghcr.io/kubeff/worker:0.1.0', KUBEFF_WORKER_SERVICE_ACCOUNT: 'kubeff-worker', KUBEFF_STORAGE_CLAIM: 'kubeff-storage', KUBEFF_LEASE_NAME: 'kubeff-operator', KUBEFF_METRICS_PORT: '9090' });
  }],
  ['GPU pool with node selectors, tolerations, runtimeClassName and created priority classes', {
    worker: {
      cpuPool: { nodeSelector: { 'kubeff.io/pool': 'cpu' } },
      gpuPool: { nodeSelector: { 'kubeff.io/pool': 'gpu' }, tolerations, runtimeClassName: 'nvidia' },
      priorityClasses: { create: true },
    },
  }, (objs) => {
    const op = env(objs, 'operator');
    expect(JSON.parse(op['KUBEFF_GPU_POOL'] ?? '{}')).toEqual({ resourceName: 'nvidia.com/gpu', nodeSelector: { 'kubeff.io/pool': 'gpu' }, tolerations, runtimeClassName: 'nvidia' });
    expect(JSON.parse(op['KUBEFF_CPU_POOL'] ?? '{}')).toEqual({ nodeSelector: { 'kubeff.io/pool': 'cpu' } });
    expect(JSON.parse(op['KUBEFF_PRIORITY_CLASSES'] ?? '{}')).toEqual({ high: 'kubeff-worker-high', normal: 'kubeff-worker-normal', low: 'kubeff-worker-low' });
    expect(objs.filter((o) => o.kind === 'PriorityClass').map((o) => [o.metadata.name, o['value']])).toEqual([['kubeff-worker-high', 1000], ['kubeff-worker-normal', 100], ['kubeff-worker-low', 10]]);
  }],
  ['ingress with TLS from an existing ClusterIssuer', ingress({ type: 'existing', name: 'letsencrypt-prod', kind: 'ClusterIssuer' }), (objs) => {
    const ing = find(objs, 'Ingress', 'gateway');
    expect(annotations(ing)).toMatchObject({ 'cert-manager.io/cluster-issuer': 'letsencrypt-prod' });
    expect(ing.spec?.['tls']).toEqual([{ hosts: ['kubeff.example.com'], secretName: 'kubeff-tls' }]);
    expect(objs.some((o) => o.kind === 'Issuer'), 'no Issuer of the chart\'s own').toBe(false);
  }],
  ['ingress with TLS from an existing namespaced Issuer', ingress({ type: 'existing', name: 'team-issuer', kind: 'Issuer' }), (objs) => {
    expect(annotations(find(objs, 'Ingress', 'gateway'))).toMatchObject({ 'cert-manager.io/issuer': 'team-issuer' });
  }],
  ['ingress with TLS from the chart\'s self-signed CA', ingress({ type: 'selfSigned' }), (objs) => {
    expect(annotations(find(objs, 'Ingress', 'gateway'))).toMatchObject({ 'cert-manager.io/issuer': 'kubeff-ca' });
    expect(objs.filter((o) => o.metadata.name.startsWith('kubeff-') && ['Issuer', 'Certificate'].includes(o.kind)).map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(['Certificate/kubeff-ca', 'Issuer/kubeff-ca', 'Issuer/kubeff-selfsigned']);
    expect(find(objs, 'Certificate', 'kubeff-ca').spec).toMatchObject({ isCA: true, secretName: 'kubeff-ca', issuerRef: { name: 'kubeff-selfsigned', kind: 'Issuer' } });
  }],
  ['ingress with TLS from Let\'s Encrypt staging (an ACME Issuer made by the chart)', ingress({ type: 'acme', acme: { server: 'staging', email: 'ops@example.com' } }), (objs) => {
    expect(annotations(find(objs, 'Ingress', 'gateway'))).toMatchObject({ 'cert-manager.io/issuer': 'kubeff-acme' });
    expect(find(objs, 'Issuer', 'acme').spec).toEqual({
      acme: { server: 'https://acme-staging-v02.api.letsencrypt.org/directory', email: 'ops@example.com', privateKeySecretRef: { name: 'kubeff-acme-account' }, solvers: [{ http01: { ingress: { ingressClassName: 'nginx' } } }] },
    });
  }],
  ['ingress with TLS from Let\'s Encrypt production', ingress({ type: 'acme', acme: { server: 'production', email: 'ops@example.com' } }), (objs) => {
    expect((find(objs, 'Issuer', 'acme').spec as { acme: { server: string } }).acme.server).toBe('https://acme-v02.api.letsencrypt.org/directory');
  }],
  ['ingress with TLS from a Secret you provide (no cert-manager)', { ingress: { enabled: true, host: 'api.example.com', tls: { enabled: true, secretName: 'my-cert', issuer: { type: 'none' } } } }, (objs) => {
    const ing = find(objs, 'Ingress', 'gateway');
    expect(Object.keys(annotations(ing)).filter((k) => k.startsWith('cert-manager.io/'))).toEqual([]);
    expect(ing.spec?.['tls']).toEqual([{ hosts: ['api.example.com'], secretName: 'my-cert' }]);
  }],
  ['an external NATS instead of the chart\'s', { nats: { enabled: false, externalUrl: 'nats://nats.messaging.svc:4333' } }, (objs) => {
    expect(objs.filter((o) => o.metadata.name.startsWith('kubeff-nats')), 'no NATS objects').toEqual([]);
    expect(env(objs, 'gateway')['NATS_URL']).toBe('nats://nats.messaging.svc:4333');
    expect(env(objs, 'operator')['NATS_URL']).toBe('nats://nats.messaging.svc:4333');
    const egress = (find(objs, 'NetworkPolicy', 'operator').spec as { egress: Array<{ ports?: Array<{ port: number }> }> }).egress;
    expect(egress.flatMap((e) => e.ports ?? []).map((p) => p.port), 'the operator may reach the external NATS port').toContain(4333);
  }],
  ['HA: autoscaled gateway, two operators, a three-server JetStream cluster, disruption budgets', {
    gateway: { autoscaling: { enabled: true, minReplicas: 3, maxReplicas: 12 } },
    operator: { replicas: 2, podDisruptionBudget: { enabled: true } },
    nats: { replicas: 3 },
  }, (objs) => {
    expect(find(objs, 'HorizontalPodAutoscaler', 'gateway').spec).toMatchObject({ minReplicas: 3, maxReplicas: 12, scaleTargetRef: { kind: 'Deployment', name: 'kubeff-gateway' } });
    expect(find(objs, 'Deployment', 'gateway').spec?.['replicas'], 'the HPA owns the replica count').toBeUndefined();
    expect(find(objs, 'Deployment', 'operator').spec?.['replicas']).toBe(2);
    expect(find(objs, 'StatefulSet', 'nats').spec?.['replicas']).toBe(3);
    const conf = find(objs, 'ConfigMap', 'nats').data?.['nats.conf'] ?? '';
    expect(conf.match(/nats:\/\/kubeff-nats-\d\.kubeff-nats-headless\.kubeff\.svc:6222/g), 'three cluster routes').toHaveLength(3);
    expect(objs.filter((o) => o.kind === 'PodDisruptionBudget').map((o) => o.metadata.name).sort()).toEqual(['kubeff-gateway', 'kubeff-nats', 'kubeff-operator']);
  }],
  ['ServiceMonitors, tracing, an existing storage claim and an existing API-key Secret', {
    serviceMonitor: { enabled: true, labels: { release: 'prometheus' } },
    tracing: { otlpEndpoint: 'http://otel-collector.observability:4318' },
    storage: { existingClaim: 'media' },
    apiKeys: { existingSecret: 'my-keys' },
  }, (objs) => {
    const gw = find(objs, 'ServiceMonitor', 'gateway');
    expect(gw.spec).toMatchObject({ endpoints: [{ port: 'http', path: '/metrics', authorization: { type: 'Bearer', credentials: { name: 'my-keys', key: 'metrics-key' } } }] });
    expect(find(objs, 'ServiceMonitor', 'operator').spec).toMatchObject({ endpoints: [{ port: 'metrics', path: '/metrics' }] });
    expect(objs.some((o) => o.kind === 'PersistentVolumeClaim' || o.kind === 'Secret'), 'no claim or Secret of the chart\'s own').toBe(false);
    expect(env(objs, 'operator')['KUBEFF_STORAGE_CLAIM']).toBe('media');
    expect(env(objs, 'gateway')['KUBEFF_ADMIN_KEYS']).toContain('"name":"my-keys"');
    for (const c of ['gateway', 'operator']) expect(env(objs, c)['OTEL_EXPORTER_OTLP_ENDPOINT'], `${c} traces`).toBe('http://otel-collector.observability:4318');
  }],
];

describe('the kubeff Helm chart', () => {
  it('lints clean (helm lint --strict) with the default values and with every variant', async () => {
    for (const [name, values] of variants) {
      const r = await helm(['lint', chartDir, '--strict', '--kube-version', kubeVersion, '-f', valuesFile(values)]);
      expect(r.code, `helm lint, ${name}:\n${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout.split('\n').filter((l) => /\[(WARNING|ERROR)\]/.test(l)), `helm lint, ${name}`).toEqual([]);
    }
  });

  it('renders without --kube-version too: the helm built here defaults to the Kubernetes it was built for', async () => {
    const r = await helm(['template', 'kubeff', chartDir]);
    expect(r.code, `helm template without --kube-version:\n${r.stderr}`).toBe(0);
  });

  it('ships a copy of the CRD identical to the generated crds/mediajobs.kubeff.io.yaml (run `npm run gen` when this fails)', () => {
    // crds/ against the TypeBox source is test/unit/crd.test.ts; here: the chart's copy against crds/.
    const generated = readFileSync(join(repoRoot, 'crds', crdFileName), 'utf8');
    const copy = readFileSync(join(chartDir, 'crds', crdFileName), 'utf8');
    expect(copy === generated, `charts/kubeff/crds/${crdFileName} differs from crds/${crdFileName}: run \`npm run gen\` (it writes both) and commit both`).toBe(true);
  });

  it.each(variants)('renders %s into objects the real API server accepts, all pods passing "restricted"', async (_name, values, check) => {
    const { text, objs } = await render(values);
    check(objs);
    await dryRun(text);
  });

  it('the restricted check is live: a pod template that breaks it is reported', async () => {
    const bad = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'privileged' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'busybox', securityContext: { privileged: true } }] } } } };
    const r = await cp.kubectl(['apply', '--dry-run=server', '-n', ns, '-f', '-'], { input: JSON.stringify(bad) });
    expect(r.stderr).toMatch(/would violate PodSecurity "restricted/);
  });

  it('the stand-in cert-manager CRDs are strict: a misspelled Issuer field is refused', async () => {
    const bad = { apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: { name: 'typo' }, spec: { selfSiged: {} } };
    const r = await cp.kubectl(['apply', '--dry-run=server', '--validate=strict', '-n', ns, '-f', '-'], { input: JSON.stringify(bad) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unknown field "spec\.selfSiged"/);
  });

  it('gives the gateway and the worker pods the S3 Secret named in storage.s3SecretName, as environment only', async () => {
    const { objs } = await render({ storage: { s3SecretName: 'kubeff-s3' } });
    const gateway = find(objs, 'Deployment', 'gateway') as unknown as { spec: { template: { spec: { containers: { envFrom?: unknown }[] } } } };
    expect(gateway.spec.template.spec.containers[0]?.envFrom).toEqual([{ secretRef: { name: 'kubeff-s3' } }]);
    const settings = workerSettings(env(objs, 'operator'));
    expect(settings.storageSecretName).toBe('kubeff-s3');
    const job = buildJob(mediaJob('w-s3', 'auto', 'normal'), settings);
    expect(job.spec.template.spec.containers[0]?.envFrom).toEqual([{ secretRef: { name: 'kubeff-s3' } }]);
    const plain = await render({});
    expect(env(plain.objs, 'operator')).not.toHaveProperty('KUBEFF_STORAGE_SECRET');
  });

  it.each([
    ['CPU job', 'auto', {}],
    ['NVENC job on the GPU pool', 'nvenc', { worker: { gpuPool: { nodeSelector: { 'kubeff.io/pool': 'gpu' }, tolerations, runtimeClassName: 'nvidia' }, priorityClasses: { high: 'media-high' } } }],
  ] as const)('feeds the operator worker settings whose %s pod passes "restricted" and mounts the chart\'s claim', async (_name, acceleration, values) => {
    const { objs } = await render(values);
    const settings = workerSettings(env(objs, 'operator'));
    const job = buildJob(mediaJob(`w-${acceleration}`, acceleration, 'high'), settings);
    const pod = job.spec.template.spec;
    expect(pod.serviceAccountName).toBe('kubeff-worker');
    expect(pod.volumes[0]).toEqual({ name: 'storage', persistentVolumeClaim: { claimName: find(objs, 'PersistentVolumeClaim', 'storage').metadata.name } });
    if (acceleration === 'nvenc') {
      expect(pod).toMatchObject({ nodeSelector: { 'kubeff.io/pool': 'gpu' }, runtimeClassName: 'nvidia', priorityClassName: 'media-high', tolerations });
      expect(pod.containers[0]?.resources.limits).toHaveProperty(['nvidia.com/gpu'], '1');
    }
    await dryRun(JSON.stringify(job));
  });

  it.each([
    ['a misspelled key', { gateway: { replicass: 3 } }, /replicass/],
    ['a misspelled top-level key', { ingres: { enabled: true } }, /ingres/],
    ['a misspelled key inside a toleration', { worker: { gpuPool: { tolerations: [{ key: 'x', efect: 'NoSchedule' }] } } }, /efect/],
    ['a string where a number belongs', { gateway: { replicas: 'three' } }, /gateway\/replicas[\s\S]*(integer|number)/],
    ['a number where a boolean belongs', { ingress: { enabled: 1 } }, /ingress\/enabled[\s\S]*boolean/],
    ['an even NATS cluster size', { nats: { replicas: 2 } }, /nats\/replicas/],
    ['an unknown issuer type', { ingress: { tls: { issuer: { type: 'letsencrypt' } } } }, /issuer\/type/],
  ])('the values schema refuses %s, naming it', async (_name, values, message) => {
    const r = await template(values);
    expect(r.code, 'helm template should fail').not.toBe(0);
    expect(r.stderr).toMatch(/values don't meet the specifications of the schema/);
    expect(r.stderr).toMatch(message);
  });

  it.each([
    ['NATS turned off without an external URL', { nats: { enabled: false } }, 'nats.externalUrl is required'],
    ['an existing issuer without its name', ingress({ type: 'existing' }), 'ingress.tls.issuer.name is required'],
    ['an ACME issuer without an e-mail', ingress({ type: 'acme' }), 'ingress.tls.issuer.acme.email is required'],
    ['a webhook secret beside an existing key Secret', { apiKeys: { existingSecret: 'k' }, webhooks: { secret: 'whsec_c2VjcmV0c2VjcmV0c2VjcmV0' } }, 'webhooks.secret cannot be used with apiKeys.existingSecret'],
  ])('refuses %s with a message that says what to set', async (_name, values, message) => {
    const r = await template(values);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(message);
  });

  it('grants each service account only what it needs (kubectl auth can-i)', async () => {
    // Release "rbac": its objects are applied for real, and must not collide with the release of the NOTES test.
    const rbac = await template({}, { release: 'rbac', extra: ['--show-only', 'templates/rbac.yaml'] });
    expect(rbac.code, rbac.stderr).toBe(0);
    const applied = await cp.kubectl(['apply', '-n', ns, '-f', '-'], { input: rbac.stdout });
    expect(applied.code, applied.stderr).toBe(0);
    const table: Array<[string, string, string, string, boolean]> = [
      ['gateway', 'create', 'mediajobs.kubeff.io', ns, true],
      ['gateway', 'delete', 'mediajobs.kubeff.io', ns, true],
      ['gateway', 'get', 'mediajobs.kubeff.io/status', ns, true],
      ['gateway', 'patch', 'mediajobs.kubeff.io/status', ns, false],
      ['gateway', 'delete', 'secrets', ns, true],
      ['gateway', 'get', 'secrets', 'kube-system', false],
      ['gateway', 'create', 'mediajobs.kubeff.io', 'default', false],
      ['gateway', 'create', 'jobs.batch', ns, false],
      ['operator', 'watch', 'mediajobs.kubeff.io', 'default', true],
      ['operator', 'patch', 'mediajobs.kubeff.io/status', 'default', true],
      ['operator', 'patch', 'mediajobs.kubeff.io', 'default', false],
      ['operator', 'create', 'jobs.batch', 'default', true],
      ['operator', 'get', 'secrets', ns, false],
      ['operator', 'create', 'leases.coordination.k8s.io', ns, true],
      ['operator', 'create', 'leases.coordination.k8s.io', 'default', false],
      ['worker', 'get', 'mediajobs.kubeff.io', ns, false],
      ['worker', 'get', 'secrets', ns, false],
    ];
    const wrong: string[] = [];
    for (const [sa, verb, resource, where, allowed] of table) {
      const [res, sub] = resource.split('/') as [string, string | undefined];
      const r = await cp.kubectl(['auth', 'can-i', verb, res, ...(sub ? ['--subresource', sub] : []), '-n', where, '--as', `system:serviceaccount:${ns}:rbac-kubeff-${sa}`]);
      if (r.stdout.trim() !== (allowed ? 'yes' : 'no')) wrong.push(`${sa} ${allowed ? 'cannot' : 'can'} ${verb} ${resource} in ${where}`);
    }
    const lease = await cp.kubectl(['auth', 'can-i', 'update', 'leases.coordination.k8s.io/someone-else', '-n', ns, '--as', `system:serviceaccount:${ns}:rbac-kubeff-operator`]);
    if (lease.stdout.trim() !== 'no') wrong.push('operator can update a Lease not its own');
    const own = await cp.kubectl(['auth', 'can-i', 'update', 'leases.coordination.k8s.io/rbac-kubeff-operator', '-n', ns, '--as', `system:serviceaccount:${ns}:rbac-kubeff-operator`]);
    if (own.stdout.trim() !== 'yes') wrong.push('operator cannot update its own Lease');
    expect(wrong).toEqual([]);
  });

  it('prints in NOTES.txt how to reach the API and read the first API key', async () => {
    const r = await helm(['install', 'kubeff', chartDir, '-n', ns, '--dry-run=server'], cp.env());
    expect(r.code, r.stderr).toBe(0);
    const notes = r.stdout.slice(r.stdout.indexOf('NOTES:'));
    expect(notes).toContain('kubectl -n kubeff port-forward svc/kubeff-gateway 8000:80');
    expect(notes).toContain("kubectl -n kubeff get secret kubeff-api-keys -o jsonpath='{.data.admin-keys}' | base64 -d");
    expect(notes).toContain('pod-security.kubernetes.io/enforce=restricted');
  });
});
