// Pure decisions of a per-title ladder (`"variants": "auto"`): which resolutions and quality
// points to sample, and which rungs to keep from what the samples measured.
//
// The rule (README, "Quality"): every candidate resolution is encoded at a few CRFs on samples of
// the input; each encode gives a point (bitrate, VMAF), the VMAF measured against the source at
// the top resolution with the encode upscaled to it, as a player shows a lower rung. For a
// quality q, the cheapest resolution that reaches q at the lowest bitrate is on the convex hull of
// all points. The top rung aims at VMAF 95 (or what the hull reaches, or what max_bitrate
// allows), the bottom rung at the lowest quality sampled (no lower than VMAF 50, no cheaper than
// min_bitrate); rungs in between are spaced by equal VMAF steps of at least 6 (about one just
// noticeable difference), at most max_variants rungs. Content that looks the same at every
// bitrate (a static slate) spans few steps: few, cheap rungs.
import type { PerTitleLadder, Variant } from '@kubeff/crds';
import { even } from '../plan/geometry.ts';

export const LadderHeights = [2160, 1440, 1080, 720, 540, 360, 240] as const;
/** VMAF the top rung aims at: past it, bits buy little anyone sees. */
export const TopVmaf = 95;
/** The lowest quality a bottom rung aims at. */
export const FloorVmaf = 50;
/** Smallest VMAF step between rungs. */
export const MinStep = 6;
/** Resolutions sampled at most. */
export const MaxCandidates = 4;

/** The CRFs each candidate resolution is sampled at, per codec's scale. */
export function sampleCrfs(codec: 'h264' | 'h265'): number[] {
  return codec === 'h265' ? [22, 28, 34, 40] : [18, 24, 30, 36];
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

/** Pure: the quality a resolution gives at a bitrate, along its curve (clamped to what was sampled). */
export function vmafAt(curve: readonly SamplePoint[], bitrate: number): number {
  const pts = [...curve].sort((a, b) => a.bitrate - b.bitrate);
  const lo = pts[0] as SamplePoint;
  const hi = pts[pts.length - 1] as SamplePoint;
  if (bitrate <= lo.bitrate) return lo.vmaf;
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

/** Pure: the rungs of a per-title ladder from the sampled points (see the rule at the top). */
export function chooseRungs(points: readonly SamplePoint[], opts: PerTitleLadder): Rung[] {
  if (!points.length) throw new Error('internal: a ladder needs sampled points');
  const curves = new Map<string, SamplePoint[]>();
  for (const p of points) curves.set(key(p.size), [...(curves.get(key(p.size)) ?? []), p]);
  const hull = convexHull(points);
  const hullTop = Math.max(...hull.map((p) => p.vmaf));
  const hullBottom = Math.min(...hull.map((p) => p.vmaf));
  let top = Math.min(TopVmaf, hullTop);
  if (opts.maxBitrate !== undefined) {
    // The best quality any resolution gives within the cap.
    const capped = Math.max(...[...curves.values()].map((c) => vmafAt(c, opts.maxBitrate as number)));
    top = Math.min(top, capped);
  }
  let bottom = Math.max(FloorVmaf, hullBottom);
  if (opts.minBitrate !== undefined) {
    const floored = Math.min(...[...curves.values()].map((c) => vmafAt(c, opts.minBitrate as number)));
    bottom = Math.max(bottom, floored);
  }
  bottom = Math.min(bottom, top);
  const count = Math.max(1, Math.min(opts.maxVariants, Math.floor((top - bottom) / MinStep + 1e-9) + 1));
  const targets = count === 1 ? [top] : Array.from({ length: count }, (_, i) => top - (i * (top - bottom)) / (count - 1));
  const rungs: Rung[] = [];
  for (const q of targets) {
    const pick = cheapest(curves, q);
    if (!pick) continue;
    let bitrate = Math.round(pick.bitrate);
    if (opts.maxBitrate !== undefined) bitrate = Math.min(bitrate, opts.maxBitrate);
    if (opts.minBitrate !== undefined) bitrate = Math.max(bitrate, opts.minBitrate);
    const prev = rungs[rungs.length - 1];
    // A rung must cost less than the one above it, or it is not a rung.
    if (prev && bitrate >= prev.bitrate) continue;
    rungs.push({ name: '', size: pick.size, bitrate: Math.max(1000, bitrate), vmaf: Math.round(q * 100) / 100 });
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
  return rungs.map((r) => ({ name: r.name, width: r.size.width, height: r.size.height, bitrate: r.bitrate }));
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
