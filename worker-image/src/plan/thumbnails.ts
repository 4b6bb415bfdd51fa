// Pure planners for still images: one thumbnail, a series (count or interval), and a contact
// sheet with a WebVTT sprite map that players use for scrubbing previews.
import type { OperationOf, OutputSpec } from '@kubeff/crds';
import { JobFailure } from '../failure.ts';
import { fit, fitInside, type Dimensions } from './geometry.ts';
import { chain, filter, num, rateForInterval } from './graph.ts';
import { trimArgs, trimOf, videoChain } from './operations.ts';
import { commonArgs, fileInput, type Plan, type PlanContext } from './types.ts';

const jpegQ = { high: 2, medium: 5, low: 10 } as const;
const webpQ = { high: 90, medium: 75, low: 50 } as const;

function imageEncoder(format: OutputSpec['format'], quality: keyof typeof jpegQ): string[] {
  if (format === 'png') return ['-c:v', 'png'];
  if (format === 'webp') return ['-c:v', 'libwebp', '-quality', String(webpQ[quality])];
  return ['-c:v', 'mjpeg', '-q:v', String(jpegQ[quality]), '-pix_fmt', 'yuvj420p'];
}

export interface SeriesLayout {
  /** Seconds (from the trimmed start) of each image. */
  times: number[];
  interval: number;
}

/** Pure: when each image of a series is taken. */
export function seriesLayout(op: OperationOf<'thumbnail'>, seconds: number): SeriesLayout {
  const interval = op.interval ?? seconds / (op.count ?? 1);
  const count = op.count ?? Math.max(1, Math.min(100, Math.floor(seconds / interval)));
  return { interval, times: Array.from({ length: count }, (_, i) => i * interval) };
}

function baseChain(ctx: PlanContext, seconds: number) {
  const video = ctx.inputInfo.video;
  if (!video || video.width === 0) throw JobFailure.invalidInput('has no video stream to take thumbnails from');
  return videoChain(ctx.spec.operations, { width: video.width, height: video.height, fps: video.fps }, seconds);
}

export function planThumbnail(ctx: PlanContext, op: OperationOf<'thumbnail'>): Plan {
  const out = ctx.spec.output as OutputSpec;
  const { trim, seconds } = trimOf(ctx.spec.operations, ctx.inputInfo.durationSeconds);
  const vc = baseChain(ctx, seconds);
  const size = fit(vc.size, op);
  const single = op.count === undefined && op.interval === undefined;
  const filters = [...vc.before];
  if (vc.watermark) throw JobFailure.invalidInput('watermark cannot be combined with thumbnails', 'operations');
  let seekArgs = trimArgs(trim);
  if (single) {
    const at = op.timestamp ?? seconds * 0.1;
    if (seconds > 0 && at >= seconds) {
      throw JobFailure.invalidInput(`thumbnail timestamp ${num(at)}s is past the end of the ${num(seconds)}s video`, `operations[${ctx.spec.operations.indexOf(op)}].timestamp`);
    }
    seekArgs = ['-ss', num((trim?.start ?? 0) + at)];
  } else {
    const layout = seriesLayout(op, seconds);
    filters.push(filter('fps', { fps: rateForInterval(layout.interval), round: 'down' }));
  }
  filters.push(filter('scale', { w: size.width, h: size.height }));
  const args = [
    ...commonArgs(ctx),
    ...fileInput(ctx.input, seekArgs),
    '-filter_complex', chain(['0:v:0'], filters, 'vout', 'v'),
    '-map', '[vout]',
    ...imageEncoder(out.format, op.quality),
  ];
  if (single) args.push('-frames:v', '1', '-update', '1', '-f', 'image2', '-protocol_whitelist', 'file', `file:${ctx.staging}`);
  else {
    const layout = seriesLayout(op, seconds);
    args.push('-frames:v', String(layout.times.length), '-start_number', '1', '-f', 'image2', '-protocol_whitelist', 'file', `file:${ctx.staging}/thumb_%04d.${out.format}`);
  }
  return { steps: [{ stage: 'thumbnails', ffmpeg: ctx.ffmpeg, args, expectedSeconds: single ? 0 : seconds, weight: 1 }], outputSeconds: 0 };
}

export interface GridLayout {
  cell: Dimensions;
  sheet: Dimensions;
  interval: number;
}

/** Pure: cell size (aspect kept, padded) and time between cells of a contact sheet. */
export function gridLayout(op: OperationOf<'thumbnail_grid'>, seconds: number): GridLayout {
  const box = { width: Math.floor(op.width / op.cols / 2) * 2, height: Math.floor(op.height / op.rows / 2) * 2 };
  if (box.width < 2 || box.height < 2) throw JobFailure.invalidInput('the grid is too small for that many cells', 'operations.width');
  return { cell: box, sheet: { width: box.width * op.cols, height: box.height * op.rows }, interval: Math.max(0.04, seconds / (op.rows * op.cols)) };
}

export function planGrid(ctx: PlanContext, op: OperationOf<'thumbnail_grid'>, sheetFile: string): Plan {
  const out = ctx.spec.output as OutputSpec;
  const { trim, seconds } = trimOf(ctx.spec.operations, ctx.inputInfo.durationSeconds);
  const vc = baseChain(ctx, seconds);
  if (vc.watermark) throw JobFailure.invalidInput('watermark cannot be combined with thumbnails', 'operations');
  const layout = gridLayout(op, seconds);
  const inner = fitInside(vc.size, layout.cell);
  const filters = [
    ...vc.before,
    filter('fps', { fps: rateForInterval(layout.interval), round: 'down' }),
    filter('scale', { w: inner.width, h: inner.height }),
    filter('pad', { w: layout.cell.width, h: layout.cell.height, x: '(ow-iw)/2', y: '(oh-ih)/2' }),
    filter('tile', { layout: `${op.cols}x${op.rows}` }),
  ];
  const args = [
    ...commonArgs(ctx),
    ...fileInput(ctx.input, trimArgs(trim)),
    '-filter_complex', chain(['0:v:0'], filters, 'vout', 'v'),
    '-map', '[vout]',
    ...imageEncoder(out.format, 'high'),
    '-frames:v', '1', '-update', '1', '-f', 'image2', '-protocol_whitelist', 'file', `file:${sheetFile}`,
  ];
  return { steps: [{ stage: 'thumbnails', ffmpeg: ctx.ffmpeg, args, expectedSeconds: seconds, weight: 1 }], outputSeconds: 0 };
}

function vttTime(s: number): string {
  const ms = Math.round(s * 1000);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const sec = Math.floor((ms % 60_000) / 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(h)}:${pad(m)}:${pad(sec)}.${pad(ms % 1000, 3)}`;
}

/** Pure: the WebVTT sprite map (one cue per cell, `image#xywh=`) for a contact sheet. */
export function spriteVtt(op: OperationOf<'thumbnail_grid'>, layout: GridLayout, seconds: number, imageName: string): string {
  const lines = ['WEBVTT', ''];
  const cells = op.rows * op.cols;
  for (let k = 0; k < cells; k++) {
    const start = k * layout.interval;
    if (seconds > 0 && start >= seconds) break;
    const end = Math.min(seconds > 0 ? seconds : Infinity, (k + 1) * layout.interval);
    const x = (k % op.cols) * layout.cell.width;
    const y = Math.floor(k / op.cols) * layout.cell.height;
    lines.push(`${vttTime(start)} --> ${vttTime(end)}`, `${imageName}#xywh=${x},${y},${layout.cell.width},${layout.cell.height}`, '');
  }
  return lines.join('\n');
}
