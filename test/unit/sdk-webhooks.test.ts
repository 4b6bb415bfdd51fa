// The SDK's webhook verification (Web Crypto) against the gateway's own signing: both secret
// forms, several signatures during a rotation, the timestamp tolerance, and hostile input that
// must come out as "not verified", never as an exception.
import { describe, expect, it } from 'vitest';
import { sign } from '../../gateway/src/webhooks/signing.ts';
import { parseWebhook, verifyWebhook, webhookSecretKey, WebhookVerificationError } from '../../sdk/src/webhooks.ts';

const whsec = `whsec_${Buffer.alloc(32, 3).toString('base64')}`;
const raw = 'a-raw-secret-of-enough-length';
const now = 1_800_000_000;
const body = JSON.stringify({ event: 'complete', job_id: 'j1', timestamp: '2027-01-15T08:00:00Z', data: { status: 'completed' } });

function headers(secret: string, o: { id?: string; ts?: number; body?: string; extra?: string } = {}): Record<string, string> {
  const id = o.id ?? 'msg_1';
  const ts = o.ts ?? now;
  const sig = sign(secret, id, ts, o.body ?? body);
  return { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': o.extra ? `${o.extra} ${sig}` : sig };
}

describe('verifyWebhook', () => {
  it.each([['a whsec_ secret', whsec], ['a raw secret', raw]])('accepts what the gateway signs with %s', async (_name, secret) => {
    expect(await verifyWebhook({ secret, headers: headers(secret), body, nowSeconds: now })).toBe(true);
    expect(await verifyWebhook({ secret, headers: new Headers(headers(secret)), body: new TextEncoder().encode(body), nowSeconds: now })).toBe(true);
  });

  it('accepts one matching signature among several (a secret being rotated)', async () => {
    const old = sign(raw, 'msg_1', now, body);
    expect(await verifyWebhook({ secret: whsec, headers: headers(whsec, { extra: old }), body, nowSeconds: now })).toBe(true);
  });

  it('reads header names in any case, as a Node request object may hold them', async () => {
    const h = Object.fromEntries(Object.entries(headers(whsec)).map(([k, v]) => [k.toUpperCase(), v]));
    expect(await verifyWebhook({ secret: whsec, headers: h, body, nowSeconds: now })).toBe(true);
  });

  it.each([
    ['a changed body', { body: body.replace('j1', 'j2') }],
    ['another id', { headers: { ...headers(whsec), 'webhook-id': 'msg_2' } }],
    ['a changed timestamp', { headers: { ...headers(whsec), 'webhook-timestamp': String(now + 1) } }],
    ['a timestamp past the tolerance', { headers: headers(whsec, { ts: now - 301 }) }],
    ['a timestamp from the future past the tolerance', { headers: headers(whsec, { ts: now + 301 }) }],
    ['another secret', { secret: `whsec_${Buffer.alloc(32, 4).toString('base64')}` }],
    ['a missing signature', { headers: { 'webhook-id': 'msg_1', 'webhook-timestamp': String(now) } }],
    ['a signature that is not base64', { headers: { ...headers(whsec), 'webhook-signature': 'v1,@@@@' } }],
    ['an unknown signature version', { headers: { ...headers(whsec), 'webhook-signature': headers(whsec)['webhook-signature']?.replace('v1,', 'v2,') ?? '' } }],
    ['a timestamp that is not a number', { headers: { ...headers(whsec), 'webhook-timestamp': '1e9' } }],
  ])('refuses %s', async (_name, change: { body?: string; headers?: Record<string, string>; secret?: string }) => {
    expect(await verifyWebhook({ secret: change.secret ?? whsec, headers: change.headers ?? headers(whsec), body: change.body ?? body, nowSeconds: now })).toBe(false);
  });

  it('accepts a timestamp exactly at the tolerance, and a tolerance of its own', async () => {
    expect(await verifyWebhook({ secret: whsec, headers: headers(whsec, { ts: now - 300 }), body, nowSeconds: now })).toBe(true);
    expect(await verifyWebhook({ secret: whsec, headers: headers(whsec, { ts: now - 60 }), body, nowSeconds: now, toleranceSeconds: 30 })).toBe(false);
  });
});

describe('parseWebhook', () => {
  it('gives the payload of an authentic delivery and says why it refuses another', async () => {
    expect(await parseWebhook({ secret: whsec, headers: headers(whsec), body, nowSeconds: now })).toMatchObject({ event: 'complete', job_id: 'j1' });
    await expect(parseWebhook({ secret: whsec, headers: headers(whsec), body: `${body} `, nowSeconds: now })).rejects.toThrow(new WebhookVerificationError('webhook refused: no signature matches'));
    await expect(parseWebhook({ secret: whsec, headers: {}, body, nowSeconds: now })).rejects.toThrow(/missing webhook-id, webhook-timestamp, webhook-signature header/);
  });
});

describe('webhookSecretKey', () => {
  it('decodes a whsec_ secret and takes a raw one as UTF-8, refusing malformed or short ones', () => {
    expect(webhookSecretKey(whsec)).toEqual(new Uint8Array(32).fill(3));
    expect(new TextDecoder().decode(webhookSecretKey(raw))).toBe(raw);
    expect(() => webhookSecretKey('whsec_not*base64')).toThrow(/base64/);
    expect(() => webhookSecretKey(`whsec_${Buffer.alloc(8).toString('base64')}`)).toThrow(/16 bytes/);
    expect(() => webhookSecretKey('short')).toThrow(/16 characters/);
  });
});
