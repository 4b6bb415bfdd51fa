// Pure decisions about split jobs that both runtimes share: whether a job is split, what a
// chunk's progress adds up to, and the status a split job shows while its stages run.
import type { MediaJobSpec } from '../../crds/src/spec.ts';

/** A job is split when it asks for more than one worker (or for "auto") and is a convert. */
export function isSplitJob(spec: MediaJobSpec): boolean {
  const p = spec.options.parallelism;
  return spec.type === 'convert' && p !== undefined && p !== 1;
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
