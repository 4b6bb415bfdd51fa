// Leader election on a coordination.k8s.io Lease, so several operator replicas are safe: only
// the holder reconciles. Acquire when the Lease is free or expired, renew well within its
// duration, and step down (stop reconciling) as soon as a renewal fails. Writes use the Lease's
// resourceVersion, so two replicas racing for it cannot both win.
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { httpCode } from './api-errors.ts';

export interface LeaderOptions {
  kubeconfig: KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  leaseSeconds?: number;
  log: Logger;
  onStartedLeading(): Promise<void> | void;
  onStoppedLeading(): Promise<void> | void;
}


/** Pure: whether a Lease may be taken by `identity` at time `now` (ms). */
export function canAcquire(lease: V1Lease | undefined, identity: string, now: number): boolean {
  const spec = lease?.spec;
  if (!spec?.holderIdentity || spec.holderIdentity === identity) return true;
  const renewed = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
  return renewed + (spec.leaseDurationSeconds ?? 15) * 1000 < now;
}

export class LeaderElector {
  private readonly o: LeaderOptions & { leaseSeconds: number };
  private readonly api: CoordinationV1Api;
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private stopped = false;

  constructor(o: LeaderOptions) {
    this.o = { leaseSeconds: 15, ...o };
    this.api = o.kubeconfig.makeApiClient(CoordinationV1Api);
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    void this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.leading) {
      this.leading = false;
      await this.o.onStoppedLeading();
      // Give the Lease up so another replica takes over at once instead of after it expires.
      await this.release().catch(() => undefined);
    }
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    let ok = false;
    try {
      ok = await this.tryAcquireOrRenew();
    } catch (err) {
      this.o.log.warn({ err }, 'lease update failed');
    }
    if (ok && !this.leading) {
      this.leading = true;
      this.o.log.info({ identity: this.o.identity }, 'became leader');
      await this.o.onStartedLeading();
    } else if (!ok && this.leading) {
      this.leading = false;
      this.o.log.warn({ identity: this.o.identity }, 'lost leadership');
      await this.o.onStoppedLeading();
    }
    if (this.stopped) return;
    // Renew at a third of the lease; retry (to acquire) at half of it.
    const next = (this.leading ? this.o.leaseSeconds / 3 : this.o.leaseSeconds / 2) * 1000;
    this.timer = setTimeout(() => void this.tick(), next);
    this.timer.unref();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity, leaseSeconds } = this.o;
    const now = new V1MicroTime();
    let lease: V1Lease | undefined;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (httpCode(err) !== 404) throw err;
    }
    if (!lease) {
      try {
        await this.api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: { holderIdentity: identity, leaseDurationSeconds: leaseSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 } } });
        return true;
      } catch (err) {
        if (httpCode(err) === 409) return false; // another replica created it first
        throw err;
      }
    }
    if (!canAcquire(lease, identity, now.getTime())) return false;
    const taking = lease.spec?.holderIdentity !== identity;
    const spec = {
      ...lease.spec,
      holderIdentity: identity,
      leaseDurationSeconds: leaseSeconds,
      renewTime: now,
      ...(taking ? { acquireTime: now, leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1 } : {}),
    };
    try {
      await this.api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec } });
      return true;
    } catch (err) {
      if (httpCode(err) === 409) return false; // lost the race (resourceVersion changed)
      throw err;
    }
  }

  private async release(): Promise<void> {
    const { namespace, name, identity } = this.o;
    const lease = await this.api.readNamespacedLease({ name, namespace });
    if (lease.spec?.holderIdentity !== identity) return;
    await this.api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec: { ...lease.spec, holderIdentity: '', renewTime: undefined } } });
  }
}
