// Where the download-link secret comes from (gateway/src/link-secret.ts): KUBEFF_LINK_SECRET is
// taken as given when long enough, refused at start when not, and generated secrets are random.
import { describe, expect, it } from 'vitest';
import { configFromEnv } from '../../gateway/src/config.ts';
import { configuredLinkSecret, generateLinkSecret } from '../../gateway/src/link-secret.ts';

describe('the download-link secret', () => {
  it('is KUBEFF_LINK_SECRET when set, and undefined (to be generated) when not', () => {
    const secret = 'x'.repeat(32);
    expect(configuredLinkSecret({ KUBEFF_LINK_SECRET: secret })).toBe(secret);
    expect(configuredLinkSecret({})).toBeUndefined();
    expect(configuredLinkSecret({ KUBEFF_LINK_SECRET: '' })).toBeUndefined();
    expect(configFromEnv({ KUBEFF_LINK_SECRET: secret }).linkSecret).toBe(secret);
  });

  it('refuses a KUBEFF_LINK_SECRET shorter than 32 characters at start, saying how to make one', () => {
    expect(() => configFromEnv({ KUBEFF_LINK_SECRET: 'short' })).toThrow(/KUBEFF_LINK_SECRET must be at least 32 characters/);
  });

  it('generates 32 random bytes each time', () => {
    const a = generateLinkSecret();
    expect(Buffer.from(a, 'base64url')).toHaveLength(32);
    expect(generateLinkSecret()).not.toBe(a);
  });
});
