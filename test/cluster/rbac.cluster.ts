// The RBAC manifests applied to the real API server, and checked with `kubectl auth can-i` as
// each service account: what each component needs is allowed, everything else is refused.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlane } from './control-plane.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
let cp: ControlPlane;

beforeAll(async () => {
  cp = await startControlPlane();
  for (const args of [['create', 'namespace', 'kubeff'], ['apply', '-f', join(repoRoot, 'crds', 'mediajobs.kubeff.io.yaml')], ['apply', '-f', join(repoRoot, 'operator', 'manifests', 'rbac.yaml')]]) {
    const r = await cp.kubectl(args);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  }
}, 120_000);
afterAll(async () => cp?.stop());

const as = (sa: string) => `system:serviceaccount:kubeff:${sa}`;

describe('least-privilege RBAC', () => {
  const table: [string, string, string, string, boolean][] = [
    // [service account, verb, resource, namespace, allowed]
    ['kubeff-operator', 'watch', 'mediajobs.kubeff.io', 'media', true],
    ['kubeff-operator', 'patch', 'mediajobs.kubeff.io/status', 'media', true],
    ['kubeff-operator', 'patch', 'mediajobs.kubeff.io', 'media', false],
    ['kubeff-operator', 'create', 'jobs.batch', 'media', true],
    ['kubeff-operator', 'delete', 'jobs.batch', 'media', true],
    ['kubeff-operator', 'update', 'jobs.batch', 'media', false],
    ['kubeff-operator', 'list', 'pods', 'media', true],
    ['kubeff-operator', 'create', 'pods', 'media', false],
    ['kubeff-operator', 'get', 'secrets', 'kubeff', false],
    ['kubeff-operator', 'create', 'leases.coordination.k8s.io', 'kubeff', true],
    ['kubeff-operator', 'create', 'leases.coordination.k8s.io', 'default', false],
    ['kubeff-gateway', 'create', 'mediajobs.kubeff.io', 'kubeff', true],
    ['kubeff-gateway', 'patch', 'mediajobs.kubeff.io/status', 'kubeff', false],
    ['kubeff-gateway', 'create', 'mediajobs.kubeff.io', 'other', false],
    ['kubeff-gateway', 'create', 'jobs.batch', 'kubeff', false],
    ['kubeff-gateway', 'get', 'secrets', 'kubeff', true],
    ['kubeff-gateway', 'get', 'secrets', 'kube-system', false],
    ['kubeff-worker', 'get', 'mediajobs.kubeff.io', 'kubeff', false],
    ['kubeff-worker', 'get', 'pods', 'kubeff', false],
    ['kubeff-worker', 'get', 'secrets', 'kubeff', false],
  ];
  it.each(table)('%s may %s %s in %s: %s', async (sa, verb, resource, ns, allowed) => {
    // "kind/status" means a subresource here; kubectl wants it as --subresource.
    const [res, sub] = resource.split('/') as [string, string | undefined];
    const r = await cp.kubectl(['auth', 'can-i', verb, res, ...(sub ? ['--subresource', sub] : []), '-n', ns, '--as', as(sa)]);
    expect(r.stdout.trim(), r.stderr).toBe(allowed ? 'yes' : 'no');
  });

  it('may get and update only its own Lease', async () => {
    const own = await cp.kubectl(['auth', 'can-i', 'update', 'leases.coordination.k8s.io/kubeff-operator', '-n', 'kubeff', '--as', as('kubeff-operator')]);
    const other = await cp.kubectl(['auth', 'can-i', 'update', 'leases.coordination.k8s.io/someone-else', '-n', 'kubeff', '--as', as('kubeff-operator')]);
    expect([own.stdout.trim(), other.stdout.trim()]).toEqual(['yes', 'no']);
  });
});
