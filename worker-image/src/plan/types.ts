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

/**
 * An input as FFmpeg opens it: a file, or (S3 objects) a presigned http(s) URL to the configured
 * endpoint. A plain string is a host path already checked inside storage.
 */
export interface MediaInput {
  /** The argument of -i: `file:/host/path` or a URL. */
  url: string;
  /** The -protocol_whitelist: `file`, or exactly the protocols the URL needs. */
  protocols: string;
  /** A -format_whitelist for network inputs: media containers only, no playlists that open more URLs. */
  formats?: string | undefined;
  /** Input options for a network input (reconnection). */
  options?: readonly string[] | undefined;
}
export type InputRef = string | MediaInput;

/**
 * Demuxers a network input may use. Playlist and reference formats (hls, dash, concat, imf, ...)
 * are left out: they open further URLs, which the protocol whitelist of a network input would let
 * reach any host. Any name of a demuxer matches (FFmpeg compares each comma-separated name).
 */
export const NetworkInputFormats = [
  'mov', 'mp4', 'matroska', 'webm', 'avi', 'flv', 'mpegts', 'mpeg', 'mpegvideo', 'mxf', 'asf', 'ogg', 'mp3', 'aac', 'wav', 'w64',
  'flac', 'aiff', 'caf', 'ac3', 'eac3', 'dts', 'truehd', 'amr', 'ivf', 'h264', 'hevc', 'm4v', 'dv', 'gif', 'nut', 'wv', 'ape',
  'png_pipe', 'jpeg_pipe', 'webp_pipe', 'bmp_pipe', 'tiff_pipe', 'yuv4mpegpipe',
].join(',');

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
