// Real media for tests: small lavfi-generated files in a fresh storage root, and ffprobe to
// check what the worker wrote.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const ffmpegBin = process.env['FFMPEG_PATH'] || 'ffmpeg';
export const ffprobeBin = process.env['FFPROBE_PATH'] || 'ffprobe';

export interface StorageRoot {
  root: string;
  /** Host path of a /storage/... path. */
  host(storagePath: string): string;
  remove(): void;
}

export function makeStorage(prefix = 'kubeff-test-'): StorageRoot {
  const root = mkdtempSync(join(tmpdir(), prefix));
  return {
    root,
    host: (p) => join(root, p.replace(/^\/storage\//, '')),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

export interface SourceOptions {
  seconds?: number;
  width?: number;
  height?: number;
  fps?: number;
  audio?: boolean;
  video?: boolean;
  /** Extra output args, e.g. a codec. */
  args?: string[];
}

/** Writes a test pattern with a tone (testsrc2 + sine) to a host path. */
export function makeSource(hostPath: string, o: SourceOptions = {}): string {
  const { seconds = 2, width = 320, height = 240, fps = 25, audio = true, video = true } = o;
  mkdirSync(dirname(hostPath), { recursive: true });
  const args = ['-v', 'error', '-y'];
  if (video) args.push('-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}:duration=${seconds}`);
  if (audio) args.push('-f', 'lavfi', '-i', `sine=frequency=440:beep_factor=4:duration=${seconds}:sample_rate=48000`);
  if (video) args.push('-pix_fmt', 'yuv420p');
  args.push(...(o.args ?? (video ? ['-c:v', 'libx264', '-preset', 'ultrafast'] : [])), ...(audio && video ? ['-c:a', 'aac', '-ac', '2'] : []), '-shortest', hostPath);
  execFileSync(ffmpegBin, args);
  return hostPath;
}

/** A PNG with transparency, for watermarks. */
export function makeLogo(hostPath: string, width = 64, height = 32): string {
  mkdirSync(dirname(hostPath), { recursive: true });
  execFileSync(ffmpegBin, ['-v', 'error', '-y', '-f', 'lavfi', '-i', `color=c=white@0.6:size=${width}x${height},format=rgba`, '-frames:v', '1', hostPath]);
  return hostPath;
}

export interface Probed {
  format: string;
  duration: number;
  streams: { codec_type: string; codec_name: string; width?: number; height?: number; channels?: number; sample_rate?: string; pix_fmt?: string; avg_frame_rate?: string; profile?: string; nb_read_frames?: string }[];
}

export function ffprobe(hostPath: string, countFrames = false): Probed {
  const out = execFileSync(ffprobeBin, ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', ...(countFrames ? ['-count_frames'] : []), hostPath], { encoding: 'utf8' });
  const raw = JSON.parse(out) as { format: { format_name: string; duration?: string }; streams: Probed['streams'] };
  return { format: raw.format.format_name, duration: Number(raw.format.duration ?? 0), streams: raw.streams };
}

export function videoStream(p: Probed) {
  const v = p.streams.find((s) => s.codec_type === 'video');
  if (!v) throw new Error(`no video stream in ${JSON.stringify(p)}`);
  return v;
}

export function audioStream(p: Probed) {
  const a = p.streams.find((s) => s.codec_type === 'audio');
  if (!a) throw new Error(`no audio stream in ${JSON.stringify(p)}`);
  return a;
}

/** Hashes of every decoded video frame, in order, in one pixel format. */
export function frameHashes(hostPath: string, inputArgs: string[] = []): string[] {
  const out = execFileSync(ffmpegBin, ['-v', 'error', ...inputArgs, '-i', hostPath, '-map', '0:v:0', '-pix_fmt', 'yuv420p', '-f', 'framemd5', '-'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return out.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(',').pop()?.trim() ?? '');
}

/** Presentation times (seconds) of every packet of a stream, in order. */
export function frameTimes(hostPath: string, stream = 'v:0'): number[] {
  const out = execFileSync(ffprobeBin, ['-v', 'error', '-select_streams', stream, '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', hostPath], { encoding: 'utf8', maxBuffer: 64 << 20 });
  // A packet with side data prints a second field (and an empty line after it).
  return out.split('\n').map((l) => Number(l.split(',')[0])).filter((t, i, all) => all[i] !== undefined && Number.isFinite(t) && out.split('\n')[i]?.trim() !== '').sort((a, b) => a - b);
}
