// ffprobe of an input: duration for progress, streams for validation and planning.
import { execFile } from './exec.ts';
import { JobFailure } from './failure.ts';
import type { MediaInput } from './plan/input.ts';
import { redactSecrets } from './redact.ts';
import type { Tools } from './tools.ts';

/** The ffprobe to run: one binary, or the tools' pair (a faster one for local files). */
export type Prober = string | Pick<Tools, 'ffprobe' | 'fileProbe'>;

// A static glibc cannot load the system's iconv modules (it crashes in mpegts' name conversion);
// pointed at none, iconv fails cleanly and FFmpeg keeps the raw names.
const staticProbeEnv = { ...process.env, GCONV_PATH: '/dev/null/gconv' };

function ffprobeFor(p: Prober, input: string | MediaInput): { bin: string; env?: NodeJS.ProcessEnv } {
  if (typeof p === 'string') return { bin: p };
  if (typeof input === 'string' && p.fileProbe) return { bin: p.fileProbe, env: staticProbeEnv };
  return { bin: p.ffprobe };
}

export interface VideoStreamInfo {
  codec: string;
  width: number;
  height: number;
  fps: number;
  pixelFormat: string | undefined;
  frames: number | undefined;
}
export interface AudioStreamInfo {
  codec: string;
  channels: number;
  sampleRate: number;
}
export interface MediaInfo {
  formatName: string;
  durationSeconds: number;
  /** The container's start time (seconds): what -ss positions and output timestamps count from. */
  startSeconds: number;
  sizeBytes: number;
  bitrate: number | undefined;
  video: VideoStreamInfo | undefined;
  audio: AudioStreamInfo | undefined;
  /** Whether the video stream is a single still picture (an image file). */
  isImage: boolean;
}

interface RawStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  pix_fmt?: string;
  nb_frames?: string;
  channels?: number;
  sample_rate?: string;
  duration?: string;
  disposition?: { attached_pic?: number };
}
interface RawProbe {
  streams?: RawStream[];
  format?: { format_name?: string; duration?: string; size?: string; bit_rate?: string; start_time?: string };
}

function rate(r: string | undefined): number {
  if (!r) return 0;
  const [n, d] = r.split('/').map(Number);
  return n !== undefined && d ? n / d : Number(n) || 0;
}

/** Pure: ffprobe's JSON into MediaInfo. */
export function parseProbe(json: string): MediaInfo {
  const raw = JSON.parse(json) as RawProbe;
  const streams = raw.streams ?? [];
  const v = streams.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  const a = streams.find((s) => s.codec_type === 'audio');
  const formatName = raw.format?.format_name ?? 'unknown';
  const isImage = /image2|_pipe$|png|jpeg|webp/.test(formatName) && !a;
  const duration = Number(raw.format?.duration ?? v?.duration ?? a?.duration ?? 0) || 0;
  return {
    formatName,
    durationSeconds: duration,
    startSeconds: Number(raw.format?.start_time ?? 0) || 0,
    sizeBytes: Number(raw.format?.size ?? 0) || 0,
    bitrate: raw.format?.bit_rate ? Number(raw.format.bit_rate) : undefined,
    isImage,
    video: v
      ? {
          codec: v.codec_name ?? 'unknown',
          width: v.width ?? 0,
          height: v.height ?? 0,
          fps: rate(v.avg_frame_rate) || rate(v.r_frame_rate),
          pixelFormat: v.pix_fmt,
          frames: v.nb_frames ? Number(v.nb_frames) : undefined,
        }
      : undefined,
    audio: a ? { codec: a.codec_name ?? 'unknown', channels: a.channels ?? 0, sampleRate: Number(a.sample_rate ?? 0) } : undefined,
  };
}

/**
 * Probes an input: a host path (behind `-protocol_whitelist file`) or a network MediaInput made by
 * the storage layer. A location string that is not a host path (s3://, http://) is refused: only
 * the storage layer may turn one into something FFmpeg can open (Storage.probe).
 */
export async function probe(ffprobe: Prober, input: string | MediaInput, field = 'input'): Promise<MediaInfo> {
  if (typeof input === 'string' && /^(s3|https?):\/\//i.test(input)) {
    throw JobFailure.invalidInput('an S3 or http(s) input cannot be probed here; the storage layer must open it', field);
  }
  const target = typeof input === 'string' ? input : input.url;
  const args = typeof input === 'string'
    ? ['-protocol_whitelist', 'file', `file:${input}`]
    : ['-protocol_whitelist', input.protocols, ...(input.formats ? ['-format_whitelist', input.formats] : []), input.url];
  const { bin, env } = ffprobeFor(ffprobe, input);
  const res = await execFile(bin, ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', ...args], { timeoutMs: 60_000, env });
  if (res.code !== 0) {
    const why = res.stderr.trim().split('\n').pop() ?? 'unreadable';
    throw JobFailure.invalidInput(`not a readable media file (${redactSecrets(why.replace(target, '').replace(/^file::\s*/, '').replace(/^:\s*/, ''))})`, field);
  }
  const info = parseProbe(res.stdout);
  if (!info.video && !info.audio) throw JobFailure.invalidInput('has no audio or video stream', field);
  return info;
}

/** Every video frame's presentation time (seconds, ascending) and whether it is a keyframe. */
export interface FrameIndex {
  times: number[];
  key: boolean[];
}

/**
 * Pure: ffprobe's `-show_entries packet=pts,dts,flags` CSV lines (and the stream time base) into a
 * frame index. Packets the demuxer marks discarded (edit lists) are not frames of the output.
 */
export function parseFrameIndex(csv: string, timeBase: string): FrameIndex {
  const [num, den] = timeBase.split('/').map(Number);
  if (!num || !den) throw new Error(`internal: bad time base '${timeBase}'`);
  const frames: { t: number; key: boolean }[] = [];
  for (const line of csv.split('\n')) {
    const [pts, dts, flags] = line.trim().split(',');
    if (flags === undefined) continue;
    if (flags.includes('D')) continue;
    const ts = pts && pts !== 'N/A' ? Number(pts) : dts && dts !== 'N/A' ? Number(dts) : NaN;
    if (!Number.isFinite(ts)) continue;
    frames.push({ t: (ts * num) / den, key: flags.includes('K') });
  }
  frames.sort((a, b) => a.t - b.t);
  const times: number[] = [];
  const key: boolean[] = [];
  for (const f of frames) {
    // Two packets at one time are one frame to every muxer that keeps timestamps.
    if (times.length && f.t === times[times.length - 1]) continue;
    times.push(f.t);
    key.push(f.key);
  }
  return { times, key };
}

/** Lists the video packets of an input (demuxing only, no decoding): the frame index of a split. */
export async function frameIndex(ffprobe: Prober, input: string | MediaInput, field = 'input'): Promise<FrameIndex> {
  const { bin, env } = ffprobeFor(ffprobe, input);
  const args = typeof input === 'string'
    ? ['-protocol_whitelist', 'file', `file:${input}`]
    : ['-protocol_whitelist', input.protocols, ...(input.formats ? ['-format_whitelist', input.formats] : []), input.url];
  const tb = await execFile(bin, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=time_base', '-of', 'csv=p=0', ...args], { timeoutMs: 60_000, env });
  if (tb.code !== 0) throw JobFailure.invalidInput('could not read the video stream to split it', field);
  const res = await execFile(bin, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts,dts,flags', '-of', 'csv=p=0', ...args], { timeoutMs: 600_000, maxBuffer: 512 * 1024 * 1024, env });
  if (res.code !== 0) throw JobFailure.invalidInput('could not list the video frames to split it', field);
  return parseFrameIndex(res.stdout, tb.stdout.trim().split('\n')[0] ?? '');
}
