// What the planners produce: FFmpeg argv arrays (never a shell line) with what progress counts to.
import type { Acceleration, MediaJobSpec } from '@kubeff/crds';
import type { MediaInfo } from '../probe.ts';
import type { InputRef } from './input.ts';

export interface FfmpegStep {
  /** Shown as the job's stage while this step runs. */
  stage: string;
  /** Which FFmpeg binary runs it. */
  ffmpeg: string;
  /** Arguments after the binary name. */
  args: string[];
  /** Working directory; planners use relative names inside it for files a filter writes. */
  cwd?: string;
  /** Media seconds the step's progress counts up to (out_time at 100%). */
  expectedSeconds: number;
  /** Share of the whole job's progress, 0..1; a plan's weights add up to 1. */
  weight: number;
}

export interface LoudnessMeasurement {
  input_i: number;
  input_tp: number;
  input_lra: number;
  input_thresh: number;
  target_offset: number;
}

export { NetworkInputFormats } from './input.ts';
export type { InputRef, MediaInput } from './input.ts';

export interface PlanContext {
  spec: MediaJobSpec;
  /** The inputs: host paths already checked inside storage, or network inputs (see MediaInput). */
  input: InputRef;
  inputInfo: MediaInfo;
  watermark?: InputRef | undefined;
  reference?: InputRef | undefined;
  referenceInfo?: MediaInfo | undefined;
  /** Where FFmpeg writes: a file path, or a folder for multi-file outputs; published on success. */
  staging: string;
  /** A private folder for side files (stats logs, models). */
  scratch: string;
  ffmpeg: string;
  encoders: ReadonlySet<string>;
  /** Whether this FFmpeg knows -stats_period (4.4+); older builds report progress every 0.5 s anyway. */
  statsPeriod: boolean;
  acceleration: Acceleration;
  loudness?: LoudnessMeasurement | undefined;
  /** Encoder threads (KUBEFF_ENCODER_THREADS): a pod's CPU limit, so x264 does not spawn one per host core. */
  encoderThreads?: number | undefined;
}

export interface Plan {
  steps: FfmpegStep[];
  /** Seconds of media the output will have (trim- and speed-aware). */
  outputSeconds: number;
}

/** Options every FFmpeg run gets: machine-readable progress, no prompts, only local files. */
export function commonArgs(ctx: { statsPeriod: boolean }): string[] {
  const args = ['-hide_banner', '-nostdin', '-y', '-loglevel', 'info', '-nostats', '-progress', 'pipe:1'];
  if (ctx.statsPeriod) args.push('-stats_period', '0.5');
  return args;
}

/**
 * An input behind its protocol whitelist: `file` for host paths (no http, concat, subfile or data
 * tricks), and for a network input only its own protocols and media demuxers.
 */
export function fileInput(input: InputRef, before: string[] = []): string[] {
  if (typeof input === 'string') return ['-protocol_whitelist', 'file', ...before, '-i', `file:${input}`];
  return [
    '-protocol_whitelist', input.protocols,
    ...(input.formats ? ['-format_whitelist', input.formats] : []),
    ...(input.options ?? []),
    ...before,
    '-i', input.url,
  ];
}
