// Which methods each known path answers, so a wrong method on a known route gets 405 with an
// Allow header (RFC 9110 §15.5.6) instead of a 404 that says the route does not exist.

/** A route pattern (`/api/v1/jobs/:id/events`, `/docs/*`) as a matcher of concrete paths. */
function matcher(pattern: string): RegExp {
  const body = pattern
    .split('/')
    .map((seg) => (seg === '*' ? '.*' : seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${body}$`);
}

export class RouteMethods {
  private readonly routes = new Map<string, { match: RegExp; methods: Set<string> }>();

  add(methods: string | readonly string[], pattern: string): void {
    let r = this.routes.get(pattern);
    if (!r) {
      r = { match: matcher(pattern), methods: new Set() };
      this.routes.set(pattern, r);
    }
    for (const m of typeof methods === 'string' ? [methods] : methods) r.methods.add(m.toUpperCase());
  }

  /** The methods some route answers at this path (sorted), or none when no route has the path. */
  allowed(path: string): string[] {
    const out = new Set<string>();
    for (const r of this.routes.values()) if (r.match.test(path)) for (const m of r.methods) out.add(m);
    return [...out].sort();
  }
}
