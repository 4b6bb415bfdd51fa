// Pure planner for quality metrics: one FFmpeg run decodes both files once and feeds VMAF,
// PSNR and SSIM through split filters. The distorted video is scaled to the reference's size.
// Side files (stats logs, the VMAF model) live in the scratch folder and are named relatively,
// so no path ever enters the filter graph.
import type { AnalyzeSpec } from '@kubeff/crds';
import type { VmafStyle } from '../capabilities.ts';
import { JobFailure } from '../failure.ts';
import { chain, filter } from './graph.ts';
import { commonArgs, fileInput, type Plan, type PlanContext } from './types.ts';

export const MetricFiles = { vmaf: 'vmaf.json', psnr: 'psnr.log', ssim: 'ssim.log' } as const;
export const VmafModelFiles = { model_path: 'vmaf_v0.6.1.pkl', model: 'vmaf_v0.6.1.json' } as const;

export interface AnalyzeTool {
  ffmpeg: string;
  vmafStyle: VmafStyle | undefined;
}

export function planAnalyze(ctx: PlanContext, tool: AnalyzeTool): Plan {
  const a = ctx.spec.analyze as AnalyzeSpec;
  const dist = ctx.inputInfo.video;
  const ref = ctx.referenceInfo?.video;
  if (!dist) throw JobFailure.invalidInput('has no video stream to measure');
  if (!ref || !ctx.reference) throw JobFailure.invalidInput('has no video stream to compare against', 'reference');
  if (a.metrics.includes('vmaf') && !tool.vmafStyle) {
    throw new JobFailure('UNSUPPORTED_CAPABILITY', 69, 'VMAF needs an FFmpeg built with libvmaf; none was found (set KUBEFF_VMAF_FFMPEG_PATH)', 'metrics');
  }
  const k = a.metrics.length;
  const norm = [filter('format', { pix_fmts: 'yuv420p' }), filter('setpts', ['PTS-STARTPTS'])];
  const distFilters = dist.width !== ref.width || dist.height !== ref.height
    ? [filter('scale', { w: ref.width, h: ref.height, flags: 'bicubic' }), ...norm]
    : norm;
  const split = (n: number, p: string) => (n > 1 ? [`split=${n}${Array.from({ length: n }, (_, i) => `[${p}${i}]`).join('')}`] : []);
  const graph = [
    k > 1 ? `[0:v:0]${distFilters.join(',')},${split(k, 'd')[0]}` : chain(['0:v:0'], distFilters, 'd0', 'v'),
    k > 1 ? `[1:v:0]${norm.join(',')},${split(k, 'r')[0]}` : chain(['1:v:0'], norm, 'r0', 'v'),
  ];
  a.metrics.forEach((m, i) => {
    const f =
      m === 'vmaf'
        ? tool.vmafStyle === 'model'
          ? // libvmaf 2.x: the value of model is itself key=value; only our constant names appear here.
            `libvmaf=model=path=${VmafModelFiles.model}:log_path=${MetricFiles.vmaf}:log_fmt=json:n_threads=2`
          : filter('libvmaf', { model_path: VmafModelFiles.model_path, log_path: MetricFiles.vmaf, log_fmt: 'json', n_threads: 2 })
        : filter(m, { stats_file: MetricFiles[m] });
    graph.push(chain([`d${i}`, `r${i}`], [f], `m${i}`, 'v'));
  });
  const args = [...commonArgs(ctx), ...fileInput(ctx.input), ...fileInput(ctx.reference), '-filter_complex', graph.join(';')];
  a.metrics.forEach((_, i) => args.push('-map', `[m${i}]`, '-f', 'null', '-'));
  const seconds = Math.min(ctx.inputInfo.durationSeconds, ctx.referenceInfo?.durationSeconds ?? Infinity);
  return { steps: [{ stage: 'analyzing', ffmpeg: tool.ffmpeg, args, cwd: ctx.scratch, expectedSeconds: seconds, weight: 1 }], outputSeconds: seconds };
}
