// Signed download links (gateway/src/download-links.ts): what the signature binds, an independent
// node:crypto computation of it, and every way a presented link is refused.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonical, LinkLifetime, linkKey, signLink, verifyLink, type LinkClaims, type PresentedLink } from '../../gateway/src/download-links.ts';

const secret = 'a link secret of thirty-two chars!';
const key = linkKey(secret);
const now = 1_800_000_000;
const claims: LinkClaims = { keyId: 'a1b2c3d4e5f6', credential: 'f'.repeat(64), path: '/storage/outputs/a1b2c3d4e5f6/movie.mp4', expires: now + 600 };
const presented = (c: LinkClaims = claims, signature = signLink(key, c)): PresentedLink => ({ keyId: c.keyId, path: c.path, expires: String(c.expires), signature });

describe('linkKey', () => {
  it('derives the key under its own label, so the secret itself never signs a link', () => {
    const expected = createHmac('sha256', secret).update('kubeff download links v1').digest();
    expect(key.equals(expected)).toBe(true);
    expect(key.equals(Buffer.from(secret))).toBe(false);
  });
});

describe('signLink', () => {
  it('is HMAC-SHA256 of the canonical string, in base64url without padding', () => {
    const expected = createHmac('sha256', key).update(JSON.stringify(['kubeff download link', 'v1', claims.keyId, claims.credential, claims.path, claims.expires])).digest('base64url');
    expect(signLink(key, claims)).toBe(expected);
    expect(signLink(key, claims)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('keeps claim boundaries whatever characters a claim holds', () => {
    const a = canonical({ ...claims, keyId: 'a","b', path: 'c' });
    const b = canonical({ ...claims, keyId: 'a', path: 'b","c' });
    expect(a).not.toBe(b);
  });
});

describe('verifyLink', () => {
  it('accepts a link before its expiry and says when it expires', () => {
    expect(verifyLink(key, presented(), claims.credential, now)).toEqual({ ok: true, expires: claims.expires });
    expect(verifyLink(key, presented(), claims.credential, claims.expires - 1).ok).toBe(true);
  });

  const other = (patch: Partial<PresentedLink>): PresentedLink => ({ ...presented(), ...patch });
  const flipped = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);

  it.each<[string, PresentedLink, { credential?: string | undefined; now?: number; key?: Buffer }, 'expires' | 'signature']>([
    ['an expired link', presented(), { now: claims.expires + 1 }, 'expires'],
    ['a link at its very expiry second', presented(), { now: claims.expires }, 'expires'],
    ['another path', other({ path: '/storage/outputs/a1b2c3d4e5f6/other.mp4' }), {}, 'signature'],
    ['a path with a trailing character', other({ path: `${claims.path}x` }), {}, 'signature'],
    ['another key id', other({ keyId: 'ffffffffffff' }), {}, 'signature'],
    ['a later expiry', other({ expires: String(claims.expires + 3600) }), {}, 'signature'],
    ['a signature with one character changed', other({ signature: flipped(signLink(key, claims)) }), {}, 'signature'],
    ['a link made with another secret', presented(claims, signLink(linkKey('another secret, also long enough'), claims)), {}, 'signature'],
    ['a key rotated since (another stored hash)', presented(), { credential: 'e'.repeat(64) }, 'signature'],
    ['a key that no longer exists', presented(), { credential: undefined }, 'signature'],
    ['a signature of the wrong length', other({ signature: signLink(key, claims).slice(0, 42) }), {}, 'signature'],
    ['a signature in standard base64', other({ signature: `${signLink(key, claims).slice(0, 42)}+` }), {}, 'signature'],
    ['an empty signature', other({ signature: '' }), {}, 'signature'],
    ['an expiry that is not a number', other({ expires: 'tomorrow' }), {}, 'expires'],
    ['a negative expiry', other({ expires: '-1' }), {}, 'expires'],
    ['an expiry with a fraction', other({ expires: `${claims.expires}.5` }), {}, 'expires'],
    ['an expiry with a leading zero', other({ expires: `0${claims.expires}` }), {}, 'expires'],
    ['an absurdly long expiry', other({ expires: '9'.repeat(40) }), {}, 'expires'],
  ])('refuses %s, naming %s', (_what, link, o, field) => {
    const verdict = verifyLink(o.key ?? key, link, 'credential' in o ? o.credential : claims.credential, o.now ?? now);
    expect(verdict.ok, JSON.stringify(verdict)).toBe(false);
    if (!verdict.ok) expect(verdict.field).toBe(field);
  });

  it('refuses an authentic link whose expiry lies further ahead than any link is made for', () => {
    const far = { ...claims, expires: now + LinkLifetime.max + 3600 };
    const verdict = verifyLink(key, presented(far), claims.credential, now);
    expect(verdict).toMatchObject({ ok: false, field: 'expires' });
  });

  it('tells the expiry time of an expired link', () => {
    const verdict = verifyLink(key, presented(), claims.credential, claims.expires + 5);
    expect(verdict).toMatchObject({ ok: false, reason: `the link expired at ${new Date(claims.expires * 1000).toISOString()}` });
  });
});
