// The network guard every test file runs under (test/support/net-guard-setup.ts): connections and
// name lookups that would leave this machine are stopped and reported.
import { lookup as lookupCallback } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { installNetGuard } from '../support/net-guard.ts';

const guard = installNetGuard();

describe('the network guard', () => {
  it('blocks a connection to a non-loopback address before it is made, and records it', async () => {
    const err = await new Promise<Error>((resolve) => connect(80, '10.255.255.1').on('error', resolve));
    expect(err.message).toMatch(/net-guard: connection to 10\.255\.255\.1:80 blocked/);
    expect(guard.violations.splice(0).map((v) => v.target)).toEqual(['10.255.255.1:80']);
  });

  it('blocks a system-resolver lookup of a real name, through node:dns and node:dns/promises', async () => {
    await expect(lookup('example.com')).rejects.toThrow(/net-guard: DNS lookup of example\.com blocked/);
    const err = await new Promise<Error | null>((resolve) => lookupCallback('example.org', (e) => resolve(e)));
    expect(err?.message).toMatch(/DNS lookup of example\.org blocked/);
    expect(guard.violations.splice(0).map((v) => v.target)).toEqual(['DNS lookup of example.com', 'DNS lookup of example.org']);
  });

  it('lets localhost and IP literals resolve as usual', async () => {
    expect((await lookup('127.0.0.1')).address).toBe('127.0.0.1');
    expect(['127.0.0.1', '::1']).toContain((await lookup('localhost')).address);
  });
});
