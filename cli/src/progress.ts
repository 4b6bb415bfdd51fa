// Live job progress on stderr: a redrawn bar on a terminal; on anything else (CI logs, pipes) plain
// lines, only when something changed enough to be worth a line, so logs stay short.

export interface ProgressData {
  percentage?: number;
  stage?: string;
  fps?: number;
  speed?: number;
  eta_seconds?: number;
}

export interface Sink {
  write(s: string): unknown;
}

export interface ReporterOptions {
  tty: boolean;
  quiet: boolean;
  /** Terminal width, for the bar. */
  columns?: number;
  now?: () => number;
  /** Plain mode: a line at least this often while progress moves (default 5 s)... */
  lineEveryMs?: number;
  /** ...or when the percentage moved this much (default 10 points). */
  lineEveryPercent?: number;
}

export function formatSeconds(s: number): string {
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m${String(sec).padStart(2, '0')}s`;
  if (m > 0) return `${m}m${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}

/** "45.5%  encoding  48.5 fps  1.9x  ETA 4m00s", leaving out what is unknown. */
export function describeProgress(p: ProgressData): string {
  const parts = [`${(p.percentage ?? 0).toFixed(1).padStart(5)}%`];
  if (p.stage) parts.push(p.stage);
  if (p.fps !== undefined && p.fps > 0) parts.push(`${p.fps.toFixed(1)} fps`);
  if (p.speed !== undefined && p.speed > 0) parts.push(`${p.speed.toFixed(2)}x`);
  if (p.eta_seconds !== undefined && p.eta_seconds > 0) parts.push(`ETA ${formatSeconds(p.eta_seconds)}`);
  return parts.join('  ');
}

export class ProgressReporter {
  private readonly out: Sink;
  private readonly o: ReporterOptions;
  private readonly now: () => number;
  /** Whether a bar is drawn on the current terminal line (to be cleared before other text). */
  private drawn = false;
  private lastLineAt = -Infinity;
  private lastLinePct = -Infinity;
  private lastStage: string | undefined;
  private last: ProgressData | undefined;

  constructor(out: Sink, o: ReporterOptions) {
    this.out = out;
    this.o = o;
    this.now = o.now ?? Date.now;
  }

  /** A status change or notice: always its own line. */
  note(text: string): void {
    if (this.o.quiet) return;
    this.clear();
    this.out.write(`${text}\n`);
    if (this.o.tty && this.last) this.draw(this.last);
  }

  progress(p: ProgressData): void {
    if (this.o.quiet) return;
    this.last = p;
    if (this.o.tty) {
      this.draw(p);
      return;
    }
    const pct = p.percentage ?? 0;
    const t = this.now();
    const due =
      p.stage !== this.lastStage ||
      pct >= 100 ||
      pct - this.lastLinePct >= (this.o.lineEveryPercent ?? 10) ||
      (t - this.lastLineAt >= (this.o.lineEveryMs ?? 5000) && pct !== this.lastLinePct);
    if (!due) return;
    this.lastLineAt = t;
    this.lastLinePct = pct;
    this.lastStage = p.stage;
    this.out.write(`progress ${describeProgress(p)}\n`);
  }

  /** Leaves the terminal on a fresh line. */
  done(): void {
    this.clear();
    this.last = undefined;
  }

  private clear(): void {
    if (this.drawn) {
      this.out.write('\r\x1b[2K');
      this.drawn = false;
    }
  }

  private draw(p: ProgressData): void {
    const pct = Math.min(100, Math.max(0, p.percentage ?? 0));
    const text = describeProgress(p);
    // A width that does not follow the text's length, so the bar does not jump as numbers change.
    const width = Math.max(10, Math.min(40, (this.o.columns ?? 80) - 52));
    const full = Math.round((pct / 100) * width);
    const bar = `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${text}`;
    // \r + erase line redraws in place; the bar is cut to the width so it never wraps.
    this.out.write(`\r\x1b[2K${bar.slice(0, Math.max(1, (this.o.columns ?? 80) - 1))}`);
    this.drawn = true;
  }
}
