// Pure decisions of a per-title ladder (`"variants": "auto"`): which resolutions and quality
// points to sample, and which rungs to keep from what the samples measured.
//
// The rule (README, "Quality"): every candidate resolution is encoded at a few CRFs on samples of
// the input; each encode gives a point (bitrate, VMAF), the VMAF measured against the source at
// the top resolution with the encode upscaled to it, as a player shows a lower rung. For a
// quality q, the cheapest resolution that reaches q is on the convex hull of all points.
// - Top rung: up the hull while a doubling of bits still buys at least one VMAF point, no higher
//   than VMAF 99 and no dearer than max_bitrate (default: 1.5× a typical bitrate for the top
//   resolution, halved for H.265).
// - Bottom rung: the best quality min_bitrate (default 150 kb/s) buys, no lower than VMAF 50.
// - In between: equal VMAF steps of at least 6 (about one just noticeable difference), at most
//   max_variants rungs, each at least a third cheaper than the one above.
// Content that looks the same at every bitrate (a static slate) tops out cheaply and spans few
// steps: few, cheap rungs. Complex content climbs to the cap: more rungs, more bits.
import type { PerTitleLadder, Variant } from '@kubeff/crds';
import { even } from '../plan/geometry.ts';

export const LadderHeights = [2160, 1440, 1080, 720, 540, 360, 240] as const;
/** Quality past which no rung aims. */
export const CeilingVmaf = 99;
/** A doubling of bits must buy at least this many VMAF points for the top rung to climb. */
export const MinGainPerDoubling = 1;
/** The lowest quality a bottom rung aims at. */
export const FloorVmaf = 50;
/** The bottom rung's bitrate at least, unless min_bitrate says otherwise. */
export const DefaultMinBitrate = 150_000;
/** Smallest VMAF step between rungs. */
export const MinStep = 6;
/** A rung must cost at most this share of the one above it. */
export const MaxRungRatio = 2 / 3;
/** Resolutions sampled at most. */
export const MaxCandidates = 4;

/**
 * The CRFs each candidate resolution is sampled at, per codec's scale; the top resolution also at
 * two near-transparent ones, to see where easy content stops gaining.
 */
export function sampleCrfs(codec: 'h264' | 'h265', top = false): number[] {
  const crfs = codec === 'h265' ? [22, 28, 34, 40] : [18, 24, 30, 36];
  return top ? [crfs[0] as number - 12, crfs[0] as number - 6, ...crfs] : crfs;
}

export interface Size {
  width: number;
  height: number;
}

/** Pure: the resolutions to sample, largest first: the source's own and standard heights below it. */
export function candidateSizes(source: Size, max = MaxCandidates): Size[] {
  const heights = [source.height, ...LadderHeights.filter((h) => h < source.height - 8)].slice(0, max);
  return heights.map((h) => (h === source.height ? { width: even(source.width), height: even(source.height) } : { width: even((source.width * h) / source.height), height: h }));
}

export interface SamplePoint {
  size: Size;
  crf: number;
  /** Bits per second of the sample encode. */
  bitrate: number;
  /** VMAF against the source at the top size. */
  vmaf: number;
}

export interface Rung {
  name: string;
  size: Size;
  bitrate: number;
  vmaf: number;
  /** The CRF that gives the rung's quality on its resolution's curve: encoded as capped CRF. */
  crf: number;
}

/** Pure: the points on the upper convex hull of (bitrate, VMAF), by bitrate. */
export function convexHull(points: readonly SamplePoint[]): SamplePoint[] {
  const sorted = [...points].sort((a, b) => a.bitrate - b.bitrate || b.vmaf - a.vmaf);
  const hull: SamplePoint[] = [];
  for (const p of sorted) {
    // Dominated: costs more for no more quality.
    if (hull.length && p.vmaf <= (hull[hull.length - 1] as SamplePoint).vmaf) continue;
    while (hull.length >= 2) {
      const a = hull[hull.length - 2] as SamplePoint;
      const b = hull[hull.length - 1] as SamplePoint;
      // b lies on or below the line from a to p: not on the upper hull.
      if ((b.vmaf - a.vmaf) * (p.bitrate - a.bitrate) <= (p.vmaf - a.vmaf) * (b.bitrate - a.bitrate)) hull.pop();
      else break;
    }
    hull.push(p);
  }
  return hull;
}

/** Pure: bitrate a resolution needs for a quality, along its own curve (log-bitrate interpolation), or undefined when out of its range. */
export function bitrateFor(curve: readonly SamplePoint[], vmaf: number): number | undefined {
  const pts = [...curve].sort((a, b) => a.vmaf - b.vmaf);
  const lo = pts[0];
  const hi = pts[pts.length - 1];
  if (!lo || !hi || vmaf < lo.vmaf - 1e-9 || vmaf > hi.vmaf + 1e-9) return undefined;
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1] as SamplePoint;
    const b = pts[i] as SamplePoint;
    if (vmaf <= b.vmaf) {
      if (b.vmaf - a.vmaf < 1e-9) return Math.min(a.bitrate, b.bitrate);
      const t = (vmaf - a.vmaf) / (b.vmaf - a.vmaf);
      return Math.exp(Math.log(a.bitrate) + t * (Math.log(b.bitrate) - Math.log(a.bitrate)));
    }
  }
  return hi.bitrate;
}

/**
 * Pure: the quality a resolution gives at a bitrate, along its curve: above what was sampled, the
 * best sampled (quality saturates); below, the curve's first slope carried on (never above the
 * lowest sampled point).
 */
export function vmafAt(curve: readonly SamplePoint[], bitrate: number): number {
  const pts = [...curve].sort((a, b) => a.bitrate - b.bitrate);
  const lo = pts[0] as SamplePoint;
  const hi = pts[pts.length - 1] as SamplePoint;
  if (bitrate <= lo.bitrate) {
    const next = pts[1];
    if (!next || next.bitrate <= lo.bitrate) return lo.vmaf;
    const slope = Math.max(0, (next.vmaf - lo.vmaf) / Math.log(next.bitrate / lo.bitrate));
    return Math.max(0, lo.vmaf - slope * Math.log(lo.bitrate / Math.max(1, bitrate)));
  }
  if (bitrate >= hi.bitrate) return hi.vmaf;
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1] as SamplePoint;
    const b = pts[i] as SamplePoint;
    if (bitrate <= b.bitrate) {
      const t = (Math.log(bitrate) - Math.log(a.bitrate)) / (Math.log(b.bitrate) - Math.log(a.bitrate));
      return a.vmaf + t * (b.vmaf - a.vmaf);
    }
  }
  return hi.vmaf;
}

/** Pure: the CRF that gives a quality on one resolution's curve (linear between sampled CRFs), clamped to the sampled range. */
export function crfFor(curve: readonly SamplePoint[], vmaf: number): number {
  const pts = [...curve].sort((a, b) => a.vmaf - b.vmaf);
  const lo = pts[0] as SamplePoint;
  const hi = pts[pts.length - 1] as SamplePoint;
  if (vmaf <= lo.vmaf) return lo.crf;
  if (vmaf >= hi.vmaf) return hi.crf;
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1] as SamplePoint;
    const b = pts[i] as SamplePoint;
    if (vmaf <= b.vmaf) return b.vmaf - a.vmaf < 1e-9 ? b.crf : Math.round((a.crf + ((vmaf - a.vmaf) * (b.crf - a.crf)) / (b.vmaf - a.vmaf)) * 10) / 10;
  }
  return hi.crf;
}

const key = (s: Size) => `${s.width}x${s.height}`;

/** Pure: the cheapest (resolution, bitrate) reaching a quality, over every resolution's curve. */
function cheapest(curves: Map<string, SamplePoint[]>, vmaf: number): { size: Size; bitrate: number } | undefined {
  let best: { size: Size; bitrate: number } | undefined;
  for (const curve of curves.values()) {
    const b = bitrateFor(curve, vmaf);
    if (b !== undefined && (!best || b < best.bitrate)) best = { size: (curve[0] as SamplePoint).size, bitrate: b };
  }
  return best;
}

/** Pure: the top rung's bitrate at most when max_bitrate is not given: 1.5× typical for the size (H.265: half). */
export function defaultMaxBitrate(top: Size, codec: 'h264' | 'h265'): number {
  const nearest = LadderHeights.reduce((a, b) => (Math.abs(b - top.height) < Math.abs(a - top.height) ? b : a));
  return Math.round(((typicalBitrate[nearest] ?? 5_000_000) * 1.5) / (codec === 'h265' ? 2 : 1));
}

/** Pure: the rungs of a per-title ladder from the sampled points (see the rule at the top). */
export function chooseRungs(points: readonly SamplePoint[], opts: PerTitleLadder, codec: 'h264' | 'h265' = 'h264'): Rung[] {
  if (!points.length) throw new Error('internal: a ladder needs sampled points');
  const curves = new Map<string, SamplePoint[]>();
  for (const p of points) curves.set(key(p.size), [...(curves.get(key(p.size)) ?? []), p]);
  const topSize = points.reduce((a, p) => (p.size.height > a.height ? p.size : a), (points[0] as SamplePoint).size);
  const cap = opts.maxBitrate ?? defaultMaxBitrate(topSize, codec);
  const floor = Math.min(opts.minBitrate ?? DefaultMinBitrate, cap);
  const bestAt = (bitrate: number) => Math.max(...[...curves.values()].map((c) => vmafAt(c, bitrate)));
  // Top: up the hull while it pays, within the cap.
  const hull = convexHull(points).filter((p) => p.bitrate <= cap);
  let top = hull.length ? (hull[0] as SamplePoint).vmaf : bestAt(cap);
  for (let i = 1; i < hull.length; i++) {
    const a = hull[i - 1] as SamplePoint;
    const b = hull[i] as SamplePoint;
    if ((b.vmaf - a.vmaf) / Math.log2(b.bitrate / a.bitrate) < MinGainPerDoubling) break;
    top = b.vmaf;
  }
  // Between the last hull point and the cap the climb may still pay (complex content).
  const last = hull[hull.length - 1];
  const atCap = bestAt(cap);
  if (!last || (top === last.vmaf && atCap > top && (atCap - top) / Math.log2(cap / last.bitrate) >= MinGainPerDoubling)) top = atCap;
  top = Math.min(top, CeilingVmaf);
  const bottom = Math.min(top, Math.max(FloorVmaf, bestAt(floor)));
  const count = Math.max(1, Math.min(opts.maxVariants, Math.floor((top - bottom) / MinStep + 1e-9) + 1));
  const targets = count === 1 ? [top] : Array.from({ length: count }, (_, i) => top - (i * (top - bottom)) / (count - 1));
  const rungs: Rung[] = [];
  for (const q of targets) {
    const pick = cheapest(curves, q) ?? { size: topSize, bitrate: cap };
    const bitrate = Math.max(1000, Math.round(Math.min(cap, Math.max(floor, pick.bitrate))));
    const prev = rungs[rungs.length - 1];
    // A rung must save bits worth a switch, or it is not a rung.
    if (prev && bitrate > prev.bitrate * MaxRungRatio) continue;
    const curve = curves.get(key(pick.size)) as SamplePoint[];
    rungs.push({ name: '', size: pick.size, bitrate, vmaf: Math.round(Math.min(q, bestAt(bitrate)) * 100) / 100, crf: crfFor(curve, q) });
  }
  const seen = new Map<number, number>();
  for (const r of rungs) {
    const n = (seen.get(r.size.height) ?? 0) + 1;
    seen.set(r.size.height, n);
    r.name = n === 1 ? `${r.size.height}p` : `${r.size.height}p-${n}`;
  }
  return rungs;
}

/** The rungs as the stream planner takes them (explicit sizes). */
export function variantsOf(rungs: readonly Rung[]): Variant[] {
  return rungs.map((r) => ({ name: r.name, width: r.size.width, height: r.size.height, bitrate: r.bitrate, crf: r.crf }));
}

/** Typical bitrates by height for H.264 (halved for H.265): what an estimate assumes before sampling. */
const typicalBitrate: Record<number, number> = { 2160: 16_000_000, 1440: 9_000_000, 1080: 5_000_000, 720: 2_800_000, 540: 1_600_000, 360: 800_000, 240: 400_000 };

/** Pure: a ladder to estimate a per-title job by before anything is sampled (the worst case: complex content). */
export function guessLadder(source: Size, opts: PerTitleLadder, codec: 'h264' | 'h265'): Variant[] {
  const sizes = [source, ...LadderHeights.filter((h) => h < source.height - 8).map((h) => ({ width: even((source.width * h) / source.height), height: h }))].slice(0, opts.maxVariants);
  return sizes.map((s) => {
    const nearest = LadderHeights.reduce((a, b) => (Math.abs(b - s.height) < Math.abs(a - s.height) ? b : a));
    let bitrate = (typicalBitrate[nearest] ?? 1_000_000) / (codec === 'h265' ? 2 : 1);
    if (opts.maxBitrate !== undefined) bitrate = Math.min(bitrate, opts.maxBitrate);
    if (opts.minBitrate !== undefined) bitrate = Math.max(bitrate, opts.minBitrate);
    return { name: `${s.height}p`, width: even(s.width), height: s.height, bitrate };
  });
}
