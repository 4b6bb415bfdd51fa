// FFmpeg's `-progress pipe:1` output (key=value blocks ending in progress=continue|end) turned
// into percentage, fps, speed and ETA against the expected output length.

export interface ProgressSample {
  /** Seconds of output written so far. */
  outSeconds: number;
  frame: number | undefined;
  fps: number | undefined;
  /** Times realtime, e.g. 2.5 for "2.5x". */
  speed: number | undefined;
  end: boolean;
}

/** Incremental parser: feed it chunks of stdout, get a sample per completed block. */
export class ProgressParser {
  private buf = '';
  private block = new Map<string, string>();

  push(chunk: string): ProgressSample[] {
    this.buf += chunk;
    const samples: ProgressSample[] = [];
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      const eq = line.indexOf('=');
      if (eq <= 0) continue;
      const key = line.slice(0, eq);
      const value = line.slice(eq + 1).trim();
      if (key === 'progress') {
        samples.push(toSample(this.block, value === 'end'));
        this.block = new Map();
      } else {
        this.block.set(key, value);
      }
    }
    return samples;
  }
}

function finite(v: string | undefined): number | undefined {
  if (v === undefined || v === 'N/A') return undefined;
  const n = Number.parseFloat(v);
  return Number.isFinite(n) ? n : undefined;
}

function toSample(b: Map<string, string>, end: boolean): ProgressSample {
  // out_time_us is microseconds; out_time_ms is ALSO microseconds (a long-standing FFmpeg quirk).
  const us = finite(b.get('out_time_us')) ?? finite(b.get('out_time_ms'));
  let outSeconds = us !== undefined ? us / 1e6 : 0;
  if (us === undefined) {
    const m = /^(-?\d+):(\d+):(\d+(?:\.\d+)?)$/.exec(b.get('out_time') ?? '');
    if (m) outSeconds = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
  }
  const speed = finite(b.get('speed')?.replace(/x$/, ''));
  return { outSeconds: Math.max(0, outSeconds), frame: finite(b.get('frame')), fps: finite(b.get('fps')), speed, end };
}

export interface Progress {
  percentage: number;
  fps: number | undefined;
  speed: number | undefined;
  etaSeconds: number | undefined;
}

/** Pure: a sample against the expected length; below 100 until FFmpeg says it ended. */
export function progressOf(s: ProgressSample, expectedSeconds: number): Progress {
  let percentage: number;
  if (s.end) percentage = 100;
  else if (expectedSeconds > 0) percentage = Math.min(99.9, (s.outSeconds / expectedSeconds) * 100);
  else percentage = 0;
  const remaining = Math.max(0, expectedSeconds - s.outSeconds);
  const etaSeconds = s.end ? 0 : s.speed && s.speed > 0 && expectedSeconds > 0 ? remaining / s.speed : undefined;
  return { percentage: Math.round(percentage * 10) / 10, fps: s.fps, speed: s.speed, etaSeconds: etaSeconds === undefined ? undefined : Math.round(etaSeconds * 10) / 10 };
}
