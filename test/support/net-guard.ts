// A guard for tests that must never reach beyond this machine: every socket connection to an
// address outside 127.0.0.0/8 and ::1 is stopped before the connect system call and recorded, and
// the test that made it fails. It wraps net.Socket.prototype.connect, which net.connect,
// net.createConnection, tls.connect, http(s) agents, undici (fetch) and the AWS SDK all go through.
// It is DNS-independent: an IP literal is judged as it is; a hostname is judged by the addresses a
// custom `lookup` answers (the storage layer pins its checked addresses that way); a hostname that
// would go to the system resolver is itself a violation (except `localhost`).
// Name lookups are guarded too: a lookup through the system resolver (dns.lookup, and
// dns/promises lookup) of anything but `localhost` or an IP literal is a violation, because the
// query itself would leave this machine (to the nameserver) before any connection.
// Child processes (FFmpeg, servers) are not covered: their targets are loopback by construction.
import dns from 'node:dns';
import { syncBuiltinESMExports } from 'node:module';
import net, { isIP } from 'node:net';
import { afterEach, expect } from 'vitest';

export interface Violation {
  target: string;
  stack: string;
}

export interface NetGuard {
  violations: Violation[];
  /** Connections attempted to loopback addresses, by port (to prove that none was made). */
  attempts: { host: string; port: number }[];
}

function loopback(ip: string): boolean {
  const v = ip.replace(/^::ffff:/i, '');
  return (isIP(v) === 4 && v.startsWith('127.')) || v === '::1';
}

interface ConnectOptions {
  host?: string;
  port?: number | string;
  path?: string;
  lookup?: (hostname: string, options: unknown, callback: (...args: unknown[]) => void) => void;
}

let installed: NetGuard | undefined;

/** Installs the guard once per test file (each vitest file runs in its own process) and fails any test that trips it. */
export function installNetGuard(): NetGuard {
  if (installed) return installed;
  const guard: NetGuard = { violations: [], attempts: [] };
  installed = guard;
  const original = net.Socket.prototype.connect;
  const normalize = (net as unknown as { _normalizeArgs(args: unknown[]): [ConnectOptions, unknown] })._normalizeArgs;

  net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: unknown[]) {
    // net.connect passes args already normalized (an array flagged by Node); else normalize here.
    const normalized = (Array.isArray(args[0]) ? args[0] : normalize(args)) as [ConnectOptions, unknown];
    const opts = normalized[0];
    const go = () => original.call(this, normalized as never);
    if (opts.path !== undefined) return go();
    const host = opts.host ?? 'localhost';
    const port = Number(opts.port);
    const refuse = (target: string): net.Socket => {
      const v = { target, stack: new Error('connection outside loopback').stack ?? '' };
      guard.violations.push(v);
      const err = Object.assign(new Error(`net-guard: connection to ${target} blocked (tests may only reach 127.0.0.0/8 and ::1)`), { code: 'EKUBEFFNETGUARD' });
      process.nextTick(() => this.destroy(err));
      return this;
    };
    if (isIP(host)) {
      if (!loopback(host)) return refuse(`${host}:${port}`);
      guard.attempts.push({ host, port });
      return go();
    }
    if (host === 'localhost' && !opts.lookup) {
      guard.attempts.push({ host, port });
      return go();
    }
    if (!opts.lookup) return refuse(`${host}:${port} (a hostname for the system resolver)`);
    // Judge what the custom lookup answers, before Node connects to it.
    const lookup = opts.lookup;
    opts.lookup = (hostname, options, callback) => {
      lookup(hostname, options, (err: unknown, address: unknown, family: unknown) => {
        if (err) return callback(err);
        const list = Array.isArray(address) ? (address as { address: string }[]).map((a) => a.address) : [String(address)];
        const bad = list.find((a) => !loopback(a));
        if (bad !== undefined) {
          guard.violations.push({ target: `${hostname} -> ${bad}:${port}`, stack: new Error('connection outside loopback').stack ?? '' });
          return callback(Object.assign(new Error(`net-guard: connection to ${hostname} (${bad}) blocked`), { code: 'EKUBEFFNETGUARD' }));
        }
        guard.attempts.push({ host: list[0] ?? hostname, port });
        callback(null, address, family);
      });
    };
    return go();
  } as typeof net.Socket.prototype.connect;

  const allowedName = (hostname: string) => isIP(hostname) !== 0 || hostname === 'localhost';
  const refuseName = (hostname: string) => {
    guard.violations.push({ target: `DNS lookup of ${hostname}`, stack: new Error('name lookup outside this machine').stack ?? '' });
    return Object.assign(new Error(`net-guard: DNS lookup of ${hostname} blocked (tests resolve names with an injected resolver)`), { code: 'EKUBEFFNETGUARD' });
  };
  const lookup = dns.lookup;
  dns.lookup = function guardedLookup(hostname: string, ...rest: unknown[]) {
    if (allowedName(hostname)) return (lookup as (...a: unknown[]) => unknown).call(dns, hostname, ...rest);
    const callback = rest[rest.length - 1] as (err: Error) => void;
    const err = refuseName(hostname);
    process.nextTick(() => callback(err));
    return {};
  } as typeof dns.lookup;
  const lookupPromise = dns.promises.lookup;
  dns.promises.lookup = async function guardedLookup(hostname: string, ...rest: unknown[]) {
    if (allowedName(hostname)) return (lookupPromise as (...a: unknown[]) => Promise<unknown>).call(dns.promises, hostname, ...rest);
    throw refuseName(hostname);
  } as typeof dns.promises.lookup;
  // ES module imports of node:dns and node:dns/promises see the guarded functions too.
  syncBuiltinESMExports();

  afterEach(() => {
    const v = guard.violations.splice(0);
    expect(v.map((x) => x.target), `connections outside loopback were attempted:\n${v.map((x) => x.stack).join('\n')}`).toEqual([]);
  });
  return guard;
}
