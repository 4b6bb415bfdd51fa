// What the planners produce: FFmpeg argv arrays (never a shell line) with what progress counts to.
import type { Acceleration, MediaJobSpec } from '@kubeff/crds';
import type { MediaInfo } from '../probe.ts';

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

export interface PlanContext {
  spec: MediaJobSpec;
  /** Host paths of the inputs, already checked inside storage. */
  input: string;
  inputInfo: MediaInfo;
  watermark?: string | undefined;
  reference?: string | undefined;
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

/** An input restricted to the file protocol: no http, concat, subfile or data tricks. */
export function fileInput(hostPath: string, before: string[] = []): string[] {
  return ['-protocol_whitelist', 'file', ...before, '-i', `file:${hostPath}`];
}
