// EBU R128 loudness normalization in two passes: measure, then apply a linear gain with the
// measured values, which keeps dynamics intact (one-pass loudnorm compresses dynamically).
import { JobFailure } from '../failure.ts';
import { ExitCode } from '../exit-codes.ts';
import { filter } from './graph.ts';
import { trimArgs, trimOf } from './operations.ts';
import { commonArgs, fileInput, type FfmpegStep, type LoudnessMeasurement, type PlanContext } from './types.ts';

/** Broadcast targets: -23 LUFS integrated, -1 dBTP true peak, 7 LU range (EBU R128). */
export const LoudnessTarget = { I: -23, TP: -1, LRA: 7 } as const;

export function planLoudnessMeasure(ctx: Pick<PlanContext, 'spec' | 'input' | 'inputInfo' | 'ffmpeg' | 'statsPeriod'>): FfmpegStep {
  const { trim, seconds } = trimOf(ctx.spec.operations, ctx.inputInfo.durationSeconds);
  const args = [
    ...commonArgs(ctx),
    ...fileInput(ctx.input, trimArgs(trim)),
    '-map', '0:a:0', '-vn',
    '-af', filter('loudnorm', { ...LoudnessTarget, print_format: 'json' }),
    '-f', 'null', '-',
  ];
  return { stage: 'measuring loudness', ffmpeg: ctx.ffmpeg, args, expectedSeconds: seconds, weight: 0.15 };
}

/** Pure: the JSON block loudnorm prints at the end of stderr. */
export function parseLoudnorm(stderr: string): Record<string, string> {
  const start = stderr.lastIndexOf('{');
  const end = stderr.lastIndexOf('}');
  if (start < 0 || end < start) throw new JobFailure('PROCESSING_FAILED', ExitCode.transient, 'loudness measurement printed no result');
  return JSON.parse(stderr.slice(start, end + 1)) as Record<string, string>;
}

export function measurementFrom(values: Record<string, string>): LoudnessMeasurement {
  const read = (k: string) => {
    const n = Number(values[k]);
    if (!Number.isFinite(n)) {
      throw JobFailure.invalidInput('audio is silent or too short to measure its loudness, so it cannot be normalized', 'output.audio.normalize');
    }
    return n;
  };
  return { input_i: read('input_i'), input_tp: read('input_tp'), input_lra: read('input_lra'), input_thresh: read('input_thresh'), target_offset: read('target_offset') };
}

const layouts = ['mono', 'stereo', '2.1', 'quad', '5.0', '5.1', '6.1', '7.1'];

/**
 * Second pass: linear normalization with the measured values, resampled back from loudnorm's
 * 192 kHz. The explicit channel layout matters: FFmpeg 5.1 otherwise fails to negotiate one
 * after loudnorm on some inputs ("Cannot select channel layout").
 */
export function loudnormApply(m: LoudnessMeasurement, sampleRate: number, channels: number): string[] {
  return [
    filter('loudnorm', {
      ...LoudnessTarget,
      measured_I: m.input_i,
      measured_TP: m.input_tp,
      measured_LRA: m.input_lra,
      measured_thresh: m.input_thresh,
      offset: m.target_offset,
      linear: 'true',
      print_format: 'json',
    }),
    filter('aresample', [sampleRate]),
    filter('aformat', { channel_layouts: layouts[Math.min(8, Math.max(1, channels)) - 1] as string }),
  ];
}
