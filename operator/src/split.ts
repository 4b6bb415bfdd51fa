// Pure decisions about split jobs that both runtimes share: whether a job is split, what a
// chunk's progress adds up to, and the status a split job shows while its stages run.
import type { MediaJobSpec } from '../../crds/src/spec.ts';

/** A job is split when it asks for more than one worker (or for "auto") and is a convert or an HLS/DASH ladder. */
export function isSplitJob(spec: MediaJobSpec): boolean {
  const p = spec.options.parallelism;
  return (spec.type === 'convert' || spec.type === 'stream') && p !== undefined && p !== 1;
}

/** Shares of a split job's progress: planning is quick, stitching copies the video once. */
export const SplitWeights = { plan: 0.02, chunks: 0.9, merge: 0.08 } as const;

export type SplitPhase = 'plan' | 'chunks' | 'merge';

export interface SplitProgressInput {
  phase: SplitPhase;
  /** Output seconds of each chunk: a chunk's weight. */
  chunkSeconds: readonly number[];
  /** Each chunk's own progress, 0..100 (100 for finished chunks). */
  chunkPercent: readonly number[];
  /** The merge's own progress, 0..100. */
  mergePercent: number;
}

/** Pure: the job's progress 0..100, the chunks weighted by their length. */
export function splitPercentage(p: SplitProgressInput): number {
  if (p.phase === 'plan') return 0;
  const total = p.chunkSeconds.reduce((a, b) => a + b, 0) || 1;
  const chunks = p.chunkSeconds.reduce((a, s, i) => a + (s * Math.min(100, Math.max(0, p.chunkPercent[i] ?? 0))) / 100, 0) / total;
  const merge = p.phase === 'merge' ? Math.min(100, Math.max(0, p.mergePercent)) / 100 : 0;
  const pct = 100 * (SplitWeights.plan + SplitWeights.chunks * chunks + SplitWeights.merge * merge);
  // 100 only when the job is completed.
  return Math.min(99.9, Math.round(pct * 10) / 10);
}

/** Pure: seconds left, from the output seconds still to encode and the chunks' combined speed. */
export function splitEta(p: SplitProgressInput, speeds: readonly number[]): number | undefined {
  const speed = speeds.reduce((a, b) => a + b, 0);
  if (!(speed > 0)) return undefined;
  const left = p.chunkSeconds.reduce((a, s, i) => a + (s * (100 - Math.min(100, p.chunkPercent[i] ?? 0))) / 100, 0);
  return Math.round((left / speed) * 10) / 10;
}

/** One stage pod's own progress, as its worker publishes it on `kubeff.jobs.<ns>.<name>.split`. */
export interface StageProgress {
  splitStage: 'plan' | 'chunk' | 'audio' | 'merge' | 'cleanup';
  chunk?: number | undefined;
  percentage: number;
  speed?: number | undefined;
  fps?: number | undefined;
  stage?: string | undefined;
}

/** Pure: a `.split` message's payload, or undefined when it is not a stage's progress. */
export function parseStageProgress(data: unknown): StageProgress | undefined {
  const e = data as Record<string, unknown> | null;
  if (!e || typeof e !== 'object' || e['type'] !== 'progress') return undefined;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const percentage = num(e['percentage']);
  const stage = e['splitStage'];
  if (percentage === undefined || (stage !== 'plan' && stage !== 'chunk' && stage !== 'audio' && stage !== 'merge' && stage !== 'cleanup')) return undefined;
  const chunk = num(e['chunk']);
  if (stage === 'chunk' && (chunk === undefined || !Number.isInteger(chunk) || chunk < 0)) return undefined;
  return { splitStage: stage, chunk, percentage: Math.max(0, Math.min(100, percentage)), speed: num(e['speed']), fps: num(e['fps']), stage: typeof e['stage'] === 'string' ? e['stage'].slice(0, 64) : undefined };
}

/** What the job shows: its combined progress, published like a whole job's progress event. */
export interface SplitProgressEvent {
  type: 'progress';
  time: string;
  stage: string;
  percentage: number;
  speed?: number | undefined;
  fps?: number | undefined;
  etaSeconds?: number | undefined;
  chunks: { total: number; completed: number; failed: number };
}

interface Book {
  chunkPercent: number[];
  chunkSpeed: number[];
  mergePercent: number;
  phase: SplitPhase;
  sentAt?: number | undefined;
}

/**
 * The cluster operator's account of its split jobs' progress: the chunk pods report each their
 * own, this adds them up (weighted by length, as the standalone runtime does) into the job's.
 * Memory only: after a restart it starts again from the chunks the Job reports finished.
 */
export class SplitProgressBook {
  private readonly books = new Map<string, Book>();

  /**
   * Records a stage's progress; returns the job's progress event when one is due (at most one per
   * `minIntervalMs`, except when the job moves to a new phase).
   */
  update(
    key: string,
    u: StageProgress,
    ctx: { chunkSeconds: readonly number[]; completed: ReadonlySet<number>; failed: number; nowMs: number; time: string; minIntervalMs: number },
  ): SplitProgressEvent | undefined {
    const n = ctx.chunkSeconds.length;
    // The audio is a light step beside the chunks: the job's progress counts the video.
    if (n === 0 || u.splitStage === 'plan' || u.splitStage === 'audio' || u.splitStage === 'cleanup') return undefined;
    let b = this.books.get(key);
    if (!b || b.chunkPercent.length !== n) {
      b = { chunkPercent: new Array<number>(n).fill(0), chunkSpeed: new Array<number>(n).fill(0), mergePercent: 0, phase: 'chunks' };
      this.books.set(key, b);
    }
    const phase: SplitPhase = u.splitStage === 'merge' || b.phase === 'merge' ? 'merge' : 'chunks';
    if (u.splitStage === 'chunk' && u.chunk !== undefined && u.chunk < n) {
      b.chunkPercent[u.chunk] = u.percentage;
      b.chunkSpeed[u.chunk] = u.speed ?? 0;
    } else if (u.splitStage === 'merge') {
      b.mergePercent = u.percentage;
    }
    for (const i of ctx.completed) {
      if (i < n) {
        b.chunkPercent[i] = 100;
        b.chunkSpeed[i] = 0;
      }
    }
    if (phase === 'merge') b.chunkPercent.fill(100);
    const phaseChanged = phase !== b.phase;
    b.phase = phase;
    if (!phaseChanged && b.sentAt !== undefined && ctx.nowMs - b.sentAt < ctx.minIntervalMs) return undefined;
    b.sentAt = ctx.nowMs;
    const input: SplitProgressInput = { phase, chunkSeconds: ctx.chunkSeconds, chunkPercent: b.chunkPercent, mergePercent: b.mergePercent };
    const running = b.chunkSpeed.filter((_, i) => !ctx.completed.has(i));
    const chunks = { total: n, completed: phase === 'merge' ? n : Math.min(n, ctx.completed.size), failed: ctx.failed };
    if (phase === 'merge') {
      return { type: 'progress', time: ctx.time, stage: u.stage ?? 'stitching', percentage: splitPercentage(input), speed: u.speed, fps: u.fps, chunks };
    }
    const speed = Math.round(running.reduce((a, s) => a + s, 0) * 100) / 100;
    return { type: 'progress', time: ctx.time, stage: 'encoding chunks', percentage: splitPercentage(input), speed: speed || undefined, etaSeconds: splitEta(input, running), chunks };
  }

  forget(key: string): void {
    this.books.delete(key);
  }
}

/** Pure: each chunk's output seconds from the plan's boundaries. */
export function chunkSecondsOf(boundaries: readonly number[]): number[] {
  return boundaries.slice(1).map((b, i) => Math.max(0, b - (boundaries[i] as number)));
}
