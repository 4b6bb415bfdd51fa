import { describe, expect, it } from 'vitest';
import { RouteMethods } from '../../gateway/src/route-methods.ts';

describe('RouteMethods', () => {
  const r = new RouteMethods();
  r.add(['GET', 'HEAD'], '/api/v1/jobs/:id');
  r.add('DELETE', '/api/v1/jobs/:id');
  r.add('POST', '/api/v1/convert');
  r.add('GET', '/docs/*');
  r.add('GET', '/a.b');

  it.each([
    ['/api/v1/jobs/123', ['DELETE', 'GET', 'HEAD']],
    ['/api/v1/convert', ['POST']],
    ['/docs/static/index.html', ['GET']],
    ['/api/v1/jobs/123/extra', []],
    ['/api/v1/jobs/', []],
    ['/a.b', ['GET']],
    ['/aXb', []],
  ])('answers %s with %j', (path, methods) => {
    expect(r.allowed(path)).toEqual(methods);
  });
});
