import { describe, expect, it } from 'vitest';
import { canAcquire } from '../../operator/src/kube/leader.ts';

const at = (iso: string) => new Date(iso);
const now = Date.parse('2026-01-01T00:01:00Z');

describe('canAcquire', () => {
  it.each([
    { name: 'no Lease yet', lease: undefined, ok: true },
    { name: 'a Lease with no holder', lease: { spec: { holderIdentity: '' } }, ok: true },
    { name: 'its own Lease', lease: { spec: { holderIdentity: 'me', renewTime: at('2026-01-01T00:00:59Z'), leaseDurationSeconds: 15 } }, ok: true },
    { name: "another's fresh Lease", lease: { spec: { holderIdentity: 'other', renewTime: at('2026-01-01T00:00:50Z'), leaseDurationSeconds: 15 } }, ok: false },
    { name: "another's expired Lease", lease: { spec: { holderIdentity: 'other', renewTime: at('2026-01-01T00:00:40Z'), leaseDurationSeconds: 15 } }, ok: true },
  ])('answers $ok for $name', ({ lease, ok }) => {
    expect(canAcquire(lease as never, 'me', now)).toBe(ok);
  });
});
