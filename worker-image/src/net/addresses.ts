// Address classification shared by every guard against server-side request forgery (webhook
// targets in the gateway, HTTP(S) inputs in the gateway and the worker): which IP addresses are
// not public unicast addresses, a resolver that can be injected, a deadline for DNS, and a
// `lookup` pinned to addresses already checked. Pure except for the default resolver.
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a hostname to every address it has (injectable for tests). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const defaultResolver: Resolver = async (hostname) => {
  const all = await dnsLookup(hostname, { all: true, verbatim: true });
  return all.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

// ---------------------------------------------------------------------------------------------
// Address classification

/**
 * Why an address is not a public unicast address, or undefined when it is. `private` ranges may
 * be allowed by configuration; `never` ranges are refused even then: no webhook receiver or media server lives on
 * an unspecified, multicast, broadcast, documentation or reserved address, nor on a cloud
 * metadata endpoint (the classic SSRF prize, reachable from every VM and node).
 */
export type AddressClass = { level: 'private' | 'never'; reason: string } | undefined;

interface V4Range {
  base: number;
  bits: number;
  level: 'private' | 'never';
  reason: string;
}

const v4 = (cidr: string, level: 'private' | 'never', reason: string): V4Range => {
  const [ip, bits] = cidr.split('/') as [string, string];
  return { base: ipv4ToInt(ip) as number, bits: Number(bits), level, reason };
};

// Most specific first: the metadata address sits inside link-local.
const v4Ranges: V4Range[] = [
  v4('169.254.169.254/32', 'never', 'a cloud metadata address'),
  v4('100.100.100.200/32', 'never', 'a cloud metadata address'),
  v4('255.255.255.255/32', 'never', 'the broadcast address'),
  v4('0.0.0.0/8', 'never', 'an unspecified ("this network") address'),
  v4('10.0.0.0/8', 'private', 'a private address (10.0.0.0/8)'),
  v4('100.64.0.0/10', 'private', 'a shared carrier-grade NAT address (100.64.0.0/10)'),
  v4('127.0.0.0/8', 'private', 'a loopback address'),
  v4('169.254.0.0/16', 'private', 'a link-local address'),
  v4('172.16.0.0/12', 'private', 'a private address (172.16.0.0/12)'),
  v4('192.0.0.0/24', 'never', 'an IETF protocol assignment address'),
  v4('192.0.2.0/24', 'never', 'a documentation address'),
  v4('192.168.0.0/16', 'private', 'a private address (192.168.0.0/16)'),
  v4('198.18.0.0/15', 'private', 'a benchmarking network address'),
  v4('198.51.100.0/24', 'never', 'a documentation address'),
  v4('203.0.113.0/24', 'never', 'a documentation address'),
  v4('224.0.0.0/4', 'never', 'a multicast address'),
  v4('240.0.0.0/4', 'never', 'a reserved address'),
];

function ipv4ToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

function classifyV4(ip: string): AddressClass {
  const n = ipv4ToInt(ip);
  if (n === undefined) return { level: 'never', reason: 'not a valid IPv4 address' };
  for (const r of v4Ranges) {
    const size = 2 ** (32 - r.bits);
    if (n >= r.base && n < r.base + size) return { level: r.level, reason: r.reason };
  }
  return undefined;
}

/** The 16 bytes of an IPv6 address (with `::` and an optional embedded dotted IPv4 tail). */
export function ipv6Bytes(ip: string): Uint8Array | undefined {
  const zone = ip.indexOf('%');
  const text = zone >= 0 ? ip.slice(0, zone) : ip;
  if (isIP(text) !== 6) return undefined;
  let head = text;
  const tailBytes: number[] = [];
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const n = ipv4ToInt(last);
    if (n === undefined) return undefined;
    tailBytes.push((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
    // Keep the colon so "::1.2.3.4" still splits into an empty head around "::".
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split('::');
  const words = (s: string) => (s === '' ? [] : s.split(':').map((w) => parseInt(w, 16)));
  const left = words(halves[0] ?? '');
  const right = halves.length > 1 ? words(halves[1] ?? '') : [];
  const fill = 8 - left.length - right.length;
  const all = halves.length > 1 ? [...left, ...new Array<number>(fill).fill(0), ...right] : left;
  if (all.length !== 8) return undefined;
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    out[i * 2] = (w >> 8) & 255;
    out[i * 2 + 1] = w & 255;
  });
  if (tailBytes.length) out.set(tailBytes, 12);
  return out;
}

const hex = (b: Uint8Array, from: number, to: number) => Array.from(b.slice(from, to), (x) => x.toString(16).padStart(2, '0')).join('');
const embeddedV4 = (b: Uint8Array, at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
const withVia = (c: AddressClass, via: string): AddressClass => (c ? { level: c.level, reason: `${c.reason} (${via})` } : undefined);

function classifyV6(ip: string): AddressClass {
  const b = ipv6Bytes(ip);
  if (!b) return { level: 'never', reason: 'not a valid IPv6 address' };
  const first = b[0] ?? 0;
  const second = b[1] ?? 0;
  const zeros = (n: number) => b.slice(0, n).every((x) => x === 0);
  if (zeros(16)) return { level: 'never', reason: 'the unspecified address (::)' };
  if (zeros(15) && b[15] === 1) return { level: 'private', reason: 'a loopback address (::1)' };
  // IPv4 inside IPv6: the socket reaches the embedded IPv4 address, so judge that one.
  if (zeros(10) && b[10] === 0xff && b[11] === 0xff) return withVia(classifyV4(embeddedV4(b, 12)), 'IPv4-mapped IPv6');
  if (zeros(12)) return { level: 'never', reason: 'a deprecated IPv4-compatible IPv6 address' };
  if (hex(b, 0, 12) === '0064ff9b0000000000000000') return withVia(classifyV4(embeddedV4(b, 12)), 'NAT64');
  if (hex(b, 0, 6) === '0064ff9b0001') return { level: 'private', reason: 'a local-use NAT64 address' };
  if (first === 0x20 && second === 0x02) return withVia(classifyV4(embeddedV4(b, 2)), '6to4');
  if (hex(b, 0, 8) === '0100000000000000') return { level: 'never', reason: 'a discard-only address' };
  if (hex(b, 0, 4) === '20010db8') return { level: 'never', reason: 'a documentation address' };
  if (hex(b, 0, 16) === 'fd000ec2000000000000000000000254') return { level: 'never', reason: 'a cloud metadata address' };
  if (first === 0xff) return { level: 'never', reason: 'a multicast address' };
  if ((first & 0xfe) === 0xfc) return { level: 'private', reason: 'a unique-local address (fc00::/7)' };
  if (first === 0xfe && (second & 0xc0) === 0x80) return { level: 'private', reason: 'a link-local address (fe80::/10)' };
  if (first === 0xfe && (second & 0xc0) === 0xc0) return { level: 'private', reason: 'a site-local address (fec0::/10)' };
  return undefined;
}

/** Why an IP address may not be a target (see AddressClass), or undefined if it may. */
export function classifyAddress(ip: string): AddressClass {
  const kind = isIP(ip.split('%')[0] ?? '');
  if (kind === 4) return classifyV4(ip);
  if (kind === 6) return classifyV6(ip);
  return { level: 'never', reason: 'not an IP address' };
}

/**
 * The refusal reason for an address, or undefined when it is allowed. `setting` names what allows
 * private targets, for the message (e.g. KUBEFF_WEBHOOK_ALLOW_PRIVATE).
 */
export function addressRefusal(ip: string, allowPrivate: boolean, setting: string): string | undefined {
  const c = classifyAddress(ip);
  if (!c) return undefined;
  if (c.level === 'private' && allowPrivate) return undefined;
  return c.level === 'private' ? `${c.reason}; private targets are refused unless ${setting} is set` : c.reason;
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/** A `lookup` that answers only with the checked addresses, whatever DNS says now. */
export function pinnedLookup(addresses: readonly ResolvedAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    const first = addresses[0];
    if (!first) {
      callback(new Error('no checked address'), '', 4);
      return;
    }
    // With autoSelectFamily (the default since Node 20) net asks for every address at once.
    if (options.all) callback(null, addresses.map((a) => ({ address: a.address, family: a.family })));
    else callback(null, first.address, first.family);
  };
}

export type TargetCheck =
  | { ok: true; url: URL; addresses: ResolvedAddress[] }
  /** `refused`: never acceptable; `unresolved`: DNS failed, possibly for a while only. */
  | { ok: false; kind: 'refused' | 'unresolved'; reason: string };

/**
 * Checks an http(s) URL someone else chose and resolves its host, connecting to nothing: the
 * scheme, no credentials, a host, and every address it resolves to under `allowPrivate`
 * (`setting` names the variable that allows private addresses). Webhook targets and URL inputs
 * both go through here; the caller then connects only to `addresses` (pinnedLookup).
 */
export async function checkTargetUrl(
  raw: string | URL,
  opts: { allowPrivate: boolean; setting: string; resolve?: Resolver | undefined; resolveTimeoutMs?: number | undefined; credentialsHint?: string },
): Promise<TargetCheck> {
  let url: URL;
  try {
    url = typeof raw === 'string' ? new URL(raw) : raw;
  } catch {
    return { ok: false, kind: 'refused', reason: 'is not a valid URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, kind: 'refused', reason: `must use http or https, not ${url.protocol.replace(/:$/, '')}` };
  if (url.username || url.password) return { ok: false, kind: 'refused', reason: `must not contain credentials (user:password@)${opts.credentialsHint ?? ''}` };
  // WHATWG URL parsing already turned 2130706433, 0x7f.1 and friends into dotted IPv4.
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (!host) return { ok: false, kind: 'refused', reason: 'has no host' };
  const literal = isIP(host);
  let addresses: ResolvedAddress[];
  if (literal) {
    addresses = [{ address: host, family: literal === 6 ? 6 : 4 }];
  } else {
    try {
      addresses = await withTimeout((opts.resolve ?? defaultResolver)(host), opts.resolveTimeoutMs ?? 5000, `resolving ${host}`);
    } catch (err) {
      return { ok: false, kind: 'unresolved', reason: `host ${host} could not be resolved: ${(err as Error).message}` };
    }
    if (addresses.length === 0) return { ok: false, kind: 'unresolved', reason: `host ${host} resolved to no address` };
  }
  for (const a of addresses) {
    const why = addressRefusal(a.address, opts.allowPrivate, opts.setting);
    if (why) return { ok: false, kind: 'refused', reason: literal ? `${host} is ${why}` : `host ${host} resolves to ${a.address}, ${why}` };
  }
  return { ok: true, url, addresses };
}
