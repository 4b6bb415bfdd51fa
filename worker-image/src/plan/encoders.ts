// Codec names of the API mapped to FFmpeg encoders and their rate-control arguments.
// Each codec family spells speed and quality differently; this is the one place that knows.
import type { AudioSettings, Container, VideoSettings } from '@kubeff/crds';
import { num } from './graph.ts';

type Preset = NonNullable<VideoSettings['preset']>;
const presetIndex: Record<Preset, number> = {
  ultrafast: 0, superfast: 1, veryfast: 2, faster: 3, fast: 4, medium: 5, slow: 6, slower: 7, veryslow: 8,
};
// Speed knobs per family, indexed like presetIndex (fastest first).
const svtPreset = [13, 12, 11, 10, 9, 8, 6, 4, 2];
const aomCpuUsed = [8, 8, 7, 6, 5, 4, 3, 2, 1];
const vpxCpuUsed = [8, 8, 6, 5, 4, 2, 1, 1, 0];
const nvencPreset = ['p1', 'p1', 'p2', 'p3', 'p4', 'p4', 'p5', 'p6', 'p7'];

export interface VideoEncoderChoice {
  encoder: string;
  args: string[];
}

export function nvencEncoderFor(codec: string): string | undefined {
  return codec === 'h264' ? 'h264_nvenc' : codec === 'h265' ? 'hevc_nvenc' : codec === 'av1' ? 'av1_nvenc' : undefined;
}

/** Encoder and arguments for one video output stream (`spec` = ':0'-style suffix or ''). */
export function videoEncoder(
  codec: 'h264' | 'h265' | 'vp9' | 'av1',
  v: VideoSettings,
  opts: { encoders: ReadonlySet<string>; nvenc: boolean; container: Container | 'hls' | 'dash' },
): VideoEncoderChoice {
  const preset: Preset = v.preset ?? 'medium';
  const i = presetIndex[preset];
  const args: string[] = [];
  let encoder: string;
  if (opts.nvenc) {
    encoder = nvencEncoderFor(codec) as string;
    args.push('-preset', nvencPreset[i] as string);
    if (v.bitrate === undefined) args.push('-rc', 'vbr', '-cq', String(v.crf ?? 23), '-b:v', '0');
  } else if (codec === 'h264' || codec === 'h265') {
    encoder = codec === 'h264' ? 'libx264' : 'libx265';
    args.push('-preset', preset);
    if (v.bitrate === undefined) args.push('-crf', String(v.crf ?? (codec === 'h264' ? 23 : 28)));
    if (codec === 'h265') args.push('-x265-params', 'log-level=error');
  } else if (codec === 'vp9') {
    encoder = 'libvpx-vp9';
    args.push('-deadline', i <= 1 ? 'realtime' : 'good', '-cpu-used', String(vpxCpuUsed[i]), '-row-mt', '1');
    if (v.bitrate === undefined) args.push('-crf', String(v.crf ?? 32), '-b:v', '0');
  } else if (opts.encoders.has('libsvtav1')) {
    encoder = 'libsvtav1';
    args.push('-preset', String(svtPreset[i]));
    if (v.bitrate === undefined) args.push('-crf', String(v.crf ?? 35));
  } else {
    encoder = 'libaom-av1';
    args.push('-cpu-used', String(aomCpuUsed[i]), '-row-mt', '1');
    if (v.bitrate === undefined) args.push('-crf', String(v.crf ?? 30), '-b:v', '0');
  }
  if (v.bitrate !== undefined) args.push('-b:v', String(v.bitrate));
  if (v.profile !== undefined) args.push('-profile:v', v.profile);
  // Apple players want HEVC tagged hvc1 in MP4/MOV.
  if (codec === 'h265' && (opts.container === 'mp4' || opts.container === 'mov')) args.push('-tag:v', 'hvc1');
  return { encoder, args: ['-c:v', encoder, ...args] };
}

/** The pixel format to ask for: the request's, else 4:2:0 8-bit, which every player decodes. */
export function pixelFormat(v: VideoSettings, nvenc: boolean): string {
  if (v.pixelFormat) return v.pixelFormat;
  if (v.profile === 'main10' || v.profile === 'high10') return nvenc ? 'p010le' : 'yuv420p10le';
  return nvenc ? 'nv12' : 'yuv420p';
}

const audioEncoders = { aac: 'aac', mp3: 'libmp3lame', opus: 'libopus', vorbis: 'libvorbis', flac: 'flac', pcm: 'pcm_s16le' } as const;
const defaultAudioBitrate: Partial<Record<keyof typeof audioEncoders, number>> = { aac: 128_000, mp3: 192_000, opus: 96_000, vorbis: 128_000 };

export function audioEncoder(codec: keyof typeof audioEncoders, a: AudioSettings, sampleRate: number | undefined): string[] {
  const args = ['-c:a', audioEncoders[codec]];
  const bitrate = a.bitrate ?? defaultAudioBitrate[codec];
  if (bitrate !== undefined) args.push('-b:a', String(bitrate));
  if (a.channels !== undefined) args.push('-ac', String(a.channels));
  if (sampleRate !== undefined) args.push('-ar', String(sampleRate));
  return args;
}

/**
 * Keyframes on every segment boundary, so HLS/DASH segments start cleanly and align across
 * renditions: the first frame, then the first frame at or after each multiple of `seconds`.
 * Stateless on purpose (a frame is forced when it is in a later segment than the last forced one):
 * a chunk of a split ladder, which starts mid-timeline with the job's own timestamps, forces the
 * very frames one FFmpeg forces. (A count of forced frames, `n_forced`, cannot: FFmpeg counts the
 * first frame of an encode that starts late twice.)
 */
export function keyframesEvery(seconds: number): string[] {
  const d = num(seconds);
  return ['-force_key_frames', `expr:isnan(prev_forced_t)+gt(floor(t/${d}),floor(prev_forced_t/${d}))`];
}
