// Operations turned into filter chains, in the order the request gave them, while tracking the
// frame size and the timeline length (for fades and progress) through the chain.
import type { Operation } from '@kubeff/crds';
import { JobFailure } from '../failure.ts';
import { fit, type Dimensions } from './geometry.ts';
import { filter, num } from './graph.ts';

export interface Trim {
  start: number;
  duration: number | undefined;
}

/** Trim as input options (fast, accurate seek) plus the length of media that remains. */
export function trimOf(ops: readonly Operation[], inputSeconds: number): { trim: Trim | undefined; seconds: number } {
  const index = ops.findIndex((o) => o.type === 'trim');
  const t = ops[index];
  if (!t || t.type !== 'trim') return { trim: undefined, seconds: inputSeconds };
  if (inputSeconds > 0 && t.start >= inputSeconds) {
    throw JobFailure.invalidInput(`trim starts at ${t.start}s but the input is only ${num(inputSeconds)}s long`, `operations[${index}].start`);
  }
  const wanted = t.duration ?? (t.end !== undefined ? t.end - t.start : undefined);
  const left = inputSeconds > 0 ? inputSeconds - t.start : Infinity;
  const seconds = Math.min(wanted ?? left, left);
  return { trim: { start: t.start, duration: wanted }, seconds: Number.isFinite(seconds) ? seconds : 0 };
}

export function trimArgs(trim: Trim | undefined): string[] {
  if (!trim) return [];
  const args: string[] = [];
  if (trim.start > 0) args.push('-ss', num(trim.start));
  if (trim.duration !== undefined) args.push('-t', num(trim.duration));
  return args;
}

export interface VideoChain {
  /** Filters before the watermark overlay (or all of them if there is none). */
  before: string[];
  /** The overlay step, when a watermark is part of the chain. */
  watermark?: { imageFilters: string[]; overlay: string } | undefined;
  /** Filters after the overlay. */
  after: string[];
  size: Dimensions;
  seconds: number;
}

const denoise = { light: [2, 1.5, 3, 2.25], medium: [4, 3, 6, 4.5], strong: [8, 6, 12, 9] } as const;

const anchor: Record<string, [string, string]> = {
  'top-left': ['M', 'M'], top: ['(W-w)/2', 'M'], 'top-right': ['W-w-M', 'M'],
  left: ['M', '(H-h)/2'], center: ['(W-w)/2', '(H-h)/2'], right: ['W-w-M', '(H-h)/2'],
  'bottom-left': ['M', 'H-h-M'], bottom: ['(W-w)/2', 'H-h-M'], 'bottom-right': ['W-w-M', 'H-h-M'],
};

/**
 * Pure: the video filters for a list of operations, starting from a frame size, a length and the
 * input's frame rate.
 */
export function videoChain(ops: readonly Operation[], start: Dimensions & { fps?: number | undefined }, seconds: number): VideoChain {
  const out: VideoChain = { before: [], after: [], size: { width: start.width, height: start.height }, seconds };
  let target = out.before;
  // The frame rate the chain keeps: the input's, or the last fps operation's.
  let rate = start.fps && start.fps > 0 ? start.fps : undefined;
  ops.forEach((op, i) => {
    const at = `operations[${i}]`;
    switch (op.type) {
      case 'scale': {
        out.size = fit(out.size, op);
        target.push(filter('scale', { w: out.size.width, h: out.size.height }));
        break;
      }
      case 'crop': {
        if (op.x + op.width > out.size.width || op.y + op.height > out.size.height) {
          throw JobFailure.invalidInput(`crop ${op.width}x${op.height} at ${op.x},${op.y} does not fit in the ${out.size.width}x${out.size.height} frame`, at);
        }
        out.size = { width: op.width - (op.width % 2), height: op.height - (op.height % 2) };
        target.push(filter('crop', { w: out.size.width, h: out.size.height, x: op.x, y: op.y }));
        break;
      }
      case 'rotate':
        if (op.degrees === 180) target.push('hflip', 'vflip');
        else {
          target.push(filter('transpose', { dir: op.degrees === 90 ? 'clock' : 'cclock' }));
          out.size = { width: out.size.height, height: out.size.width };
        }
        break;
      case 'flip':
        target.push(op.direction === 'horizontal' ? 'hflip' : 'vflip');
        break;
      case 'fps':
        target.push(filter('fps', { fps: op.fps }));
        rate = op.fps;
        break;
      case 'speed':
        target.push(filter('setpts', [`PTS/${num(op.factor)}`]));
        // Sped up, frames come closer than the frame rate: pick them evenly at that rate, or the
        // encoder drops the ones its time base cannot tell apart and the length comes out wrong.
        if (op.factor > 1 && rate !== undefined) target.push(filter('fps', { fps: rate }));
        out.seconds /= op.factor;
        break;
      case 'deinterlace':
        target.push(filter('yadif', { mode: 'send_frame', deint: 'all' }));
        break;
      case 'denoise': {
        const [ls, cs, lt, ct] = denoise[op.strength];
        target.push(filter('hqdn3d', [ls, cs, lt, ct]));
        break;
      }
      case 'sharpen':
        target.push(filter('unsharp', { lx: 5, ly: 5, la: op.amount, cx: 5, cy: 5, ca: 0 }));
        break;
      case 'blur':
        target.push(filter('gblur', { sigma: op.sigma }));
        break;
      case 'color': {
        const args: Record<string, number> = {};
        if (op.brightness !== undefined) args['brightness'] = op.brightness;
        if (op.contrast !== undefined) args['contrast'] = op.contrast;
        if (op.saturation !== undefined) args['saturation'] = op.saturation;
        if (op.gamma !== undefined) args['gamma'] = op.gamma;
        target.push(filter('eq', args));
        break;
      }
      case 'fade': {
        const d = Math.min(op.duration, out.seconds);
        const st = op.direction === 'in' ? 0 : Math.max(0, out.seconds - d);
        target.push(filter('fade', { t: op.direction, st, d }));
        break;
      }
      case 'watermark': {
        const w = Math.max(2, Math.round((out.size.width * op.scale) / 2) * 2);
        const [x, y] = anchor[op.position] as [string, string];
        const m = num(op.margin);
        const imageFilters = [filter('scale', { w, h: -2 }), filter('format', { pix_fmts: 'rgba' })];
        if (op.opacity < 1) imageFilters.push(filter('colorchannelmixer', { aa: op.opacity }));
        out.watermark = { imageFilters, overlay: filter('overlay', { x: x.replace(/M/g, m), y: y.replace(/M/g, m), format: 'auto' }) };
        target = out.after;
        break;
      }
      case 'trim':
      case 'thumbnail':
      case 'thumbnail_grid':
        break; // trim is an input option; thumbnails are planned by their own planner
    }
  });
  return out;
}

/** Pure: audio filters for the operations that change audio (speed, fades). */
export function audioChain(ops: readonly Operation[], seconds: number): string[] {
  const filters: string[] = [];
  let len = seconds;
  for (const op of ops) {
    if (op.type === 'speed') {
      // atempo takes 0.5..2 per instance: chain two for 0.25..4.
      let f = op.factor;
      while (f > 2) {
        filters.push(filter('atempo', [2]));
        f /= 2;
      }
      while (f < 0.5) {
        filters.push(filter('atempo', [0.5]));
        f /= 0.5;
      }
      filters.push(filter('atempo', [f]));
      len /= op.factor;
    }
    if (op.type === 'fade') {
      const d = Math.min(op.duration, len);
      filters.push(filter('afade', { t: op.direction, st: op.direction === 'in' ? 0 : Math.max(0, len - d), d }));
    }
  }
  return filters;
}
