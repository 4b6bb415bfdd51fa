// Standard Webhooks signatures: the specification's published test vector, an independent
// node:crypto computation for the raw-secret form, and the refusals of verify().
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateSecret, secretKey, sign, verify } from '../../gateway/src/webhooks/signing.ts';

// The test vector of the Standard Webhooks specification (also used by the Svix libraries).
const vector = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

describe('sign', () => {
  it('reproduces the Standard Webhooks test vector for a whsec_ secret', () => {
    expect(sign(vector.secret, vector.id, vector.timestamp, vector.body)).toBe(vector.signature);
  });

  it('uses the UTF-8 bytes of a raw secret as the HMAC key', () => {
    const secret = 'a-raw-secret-of-some-length';
    const expected = createHmac('sha256', Buffer.from(secret, 'utf8')).update(`msg_1.1700000000.{"a":1}`).digest('base64');
    expect(sign(secret, 'msg_1', 1700000000, '{"a":1}')).toBe(`v1,${expected}`);
  });

  it('generates whsec_ secrets of 32 random bytes', () => {
    const a = generateSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(secretKey(a)).toHaveLength(32);
    expect(generateSecret()).not.toBe(a);
  });

  it.each([
    ['a whsec_ secret that is not base64', 'whsec_not base64!'],
    ['a whsec_ secret shorter than 16 bytes', 'whsec_c2hvcnQ='],
    ['a raw secret shorter than 16 characters', 'short'],
  ])('refuses %s', (_name, secret) => {
    expect(() => sign(secret, 'msg_1', 1, '{}')).toThrow(/secret/);
  });
});

describe('verify', () => {
  const at = { nowSeconds: vector.timestamp + 10 };

  it('accepts the test vector within the tolerance', () => {
    expect(verify(vector.secret, vector.id, String(vector.timestamp), vector.body, vector.signature, at)).toBe(true);
  });

  it('accepts a header listing several signatures when one matches (secret rotation)', () => {
    const other = sign(generateSecret(), vector.id, vector.timestamp, vector.body);
    expect(verify(vector.secret, vector.id, String(vector.timestamp), vector.body, `${other} ${vector.signature}`, at)).toBe(true);
  });

  it.each([
    ['a tampered body', { body: '{"test": 2432232315}' }],
    ['another webhook id', { id: 'msg_other' }],
    ['another secret', { secret: generateSecret() }],
    ['a timestamp older than the tolerance', { now: vector.timestamp + 301 }],
    ['a timestamp too far in the future', { now: vector.timestamp - 301 }],
    ['a changed timestamp with the old signature', { timestamp: String(vector.timestamp + 1) }],
    ['a non-numeric timestamp', { timestamp: '1614265330abc' }],
    ['an unknown signature version', { signature: vector.signature.replace('v1,', 'v2,') }],
    ['a truncated signature', { signature: vector.signature.slice(0, 20) }],
    ['an empty signature header', { signature: '' }],
  ])('rejects %s', (_name, change: { body?: string; id?: string; secret?: string; now?: number; timestamp?: string; signature?: string }) => {
    const ok = verify(
      change.secret ?? vector.secret,
      change.id ?? vector.id,
      change.timestamp ?? String(vector.timestamp),
      change.body ?? vector.body,
      change.signature ?? vector.signature,
      { nowSeconds: change.now ?? vector.timestamp },
    );
    expect(ok).toBe(false);
  });

  it('honours a custom tolerance', () => {
    const args = [vector.secret, vector.id, String(vector.timestamp), vector.body, vector.signature] as const;
    expect(verify(...args, { nowSeconds: vector.timestamp + 1000, toleranceSeconds: 1200 })).toBe(true);
    expect(verify(...args, { nowSeconds: vector.timestamp + 1000, toleranceSeconds: 600 })).toBe(false);
  });
});
