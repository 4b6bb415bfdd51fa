// Abort signals and waiting, with the platform's own primitives only (Node and browsers alike).

/** One signal aborted by whichever of `signals` aborts first. */
export function anySignal(signals: readonly (AbortSignal | undefined)[]): AbortSignal | undefined {
  const list = signals.filter((s): s is AbortSignal => s !== undefined);
  if (list.length <= 1) return list[0];
  if (typeof AbortSignal.any === 'function') return AbortSignal.any(list);
  // Older browsers: the same by hand.
  const ctrl = new AbortController();
  for (const s of list) {
    if (s.aborted) {
      ctrl.abort(s.reason);
      break;
    }
    s.addEventListener('abort', () => ctrl.abort(s.reason), { once: true, signal: ctrl.signal });
  }
  return ctrl.signal;
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The error a call's own timeout aborts it with, told apart from the caller's abort. */
export class CallTimeout extends Error {
  override readonly name = 'TimeoutError';
  readonly ms: number;
  constructor(ms: number) {
    super(`no answer within ${ms / 1000} s`);
    this.ms = ms;
  }
}

/**
 * A timeout that can be stopped: a download's timeout covers waiting for the answer's headers,
 * not the time its body takes to stream, so it is cleared once the headers are in.
 */
export class Deadline {
  readonly signal: AbortSignal | undefined;
  readonly ms: number;
  private readonly timer: ReturnType<typeof setTimeout> | undefined;

  constructor(ms: number | undefined) {
    this.ms = ms ?? 0;
    if (ms === undefined || ms <= 0) {
      this.signal = undefined;
      this.timer = undefined;
      return;
    }
    const ctrl = new AbortController();
    this.signal = ctrl.signal;
    this.timer = setTimeout(() => ctrl.abort(new CallTimeout(ms)), ms);
  }

  get expired(): boolean {
    return this.signal?.aborted === true;
  }

  clear(): void {
    clearTimeout(this.timer);
  }
}
