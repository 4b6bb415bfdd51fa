// The access log's view of a URL (gateway/src/link-auth.ts redactedUrl): a link's signature is a
// credential, so it is replaced however its parameter is spelled, and nothing else changes.
import { describe, expect, it } from 'vitest';
import { redactedUrl } from '../../gateway/src/link-auth.ts';

const sig = 'q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c';

describe('redactedUrl', () => {
  it.each([
    ['a link', `/api/v1/files?path=%2Fstorage%2Fa.mp4&expires=1&key=k&signature=${sig}`, '/api/v1/files?path=%2Fstorage%2Fa.mp4&expires=1&key=k&signature=[redacted]'],
    ['the signature first', `/api/v1/files?signature=${sig}&path=x`, '/api/v1/files?signature=[redacted]&path=x'],
    ['a percent-encoded parameter name', `/api/v1/files?sig%6Eature=${sig}`, '/api/v1/files?sig%6Eature=[redacted]'],
    ['an upper-case parameter name', `/x?SIGNATURE=${sig}`, '/x?SIGNATURE=[redacted]'],
    ['the parameter twice', `/x?signature=${sig}&signature=${sig}`, '/x?signature=[redacted]&signature=[redacted]'],
    ['a name without a value', '/x?signature', '/x?signature=[redacted]'],
  ])('replaces the signature in %s', (_what, url, logged) => {
    expect(redactedUrl(url)).toBe(logged);
    expect(redactedUrl(url).includes(sig)).toBe(false);
  });

  it.each([
    ['no query', '/api/v1/jobs'],
    ['other parameters', '/api/v1/jobs?status=queued&signatures=2&sort=created_at:desc'],
    ['a malformed escape', '/x?a=%zz&b=%'],
  ])('leaves a URL with %s as it is', (_what, url) => {
    expect(redactedUrl(url)).toBe(url);
  });
});
