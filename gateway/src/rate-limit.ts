// Request rate limits per API key: a per-second and a per-hour window, both enforced. Keyed on
// the authenticated key, never on a client-supplied address header. Pure over an injected clock.

export interface RateLimits {
  perSecond: number;
  perHour: number;
}

export interface RateDecision {
  allowed: boolean;
  /** The tighter of the two windows, for the X-RateLimit-* headers. */
  limit: number;
  remaining: number;
  resetSeconds: number;
  retryAfterSeconds: number;
}

interface Window {
  start: number;
  count: number;
}

export class RateLimiter {
  private readonly second = new Map<string, Window>();
  private readonly hour = new Map<string, Window>();
  private readonly limits: RateLimits;
  private readonly now: () => number;

  constructor(limits: RateLimits, now: () => number = Date.now) {
    this.limits = limits;
    this.now = now;
  }

  take(key: string): RateDecision {
    const t = this.now();
    const s = roll(this.second, key, t, 1000);
    const h = roll(this.hour, key, t, 3_600_000);
    const sLeft = this.limits.perSecond - s.count;
    const hLeft = this.limits.perHour - h.count;
    const sReset = (s.start + 1000 - t) / 1000;
    const hReset = (h.start + 3_600_000 - t) / 1000;
    if (sLeft <= 0 || hLeft <= 0) {
      const retry = hLeft <= 0 ? hReset : sReset;
      const tight = hLeft <= 0 ? { limit: this.limits.perHour, reset: hReset } : { limit: this.limits.perSecond, reset: sReset };
      return { allowed: false, limit: tight.limit, remaining: 0, resetSeconds: Math.ceil(tight.reset), retryAfterSeconds: Math.max(1, Math.ceil(retry)) };
    }
    s.count++;
    h.count++;
    const bySecond = sLeft - 1 <= hLeft - 1;
    return {
      allowed: true,
      limit: bySecond ? this.limits.perSecond : this.limits.perHour,
      remaining: Math.min(sLeft, hLeft) - 1,
      resetSeconds: Math.ceil(bySecond ? sReset : hReset),
      retryAfterSeconds: 0,
    };
  }

  /** Drops idle windows so memory follows active keys only. */
  sweep(): void {
    const t = this.now();
    for (const [k, w] of this.second) if (t - w.start > 1000) this.second.delete(k);
    for (const [k, w] of this.hour) if (t - w.start > 3_600_000) this.hour.delete(k);
  }
}

function roll(map: Map<string, Window>, key: string, t: number, size: number): Window {
  let w = map.get(key);
  if (!w || t - w.start >= size) {
    w = { start: t, count: 0 };
    map.set(key, w);
  }
  return w;
}
