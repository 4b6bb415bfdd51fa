// Pure decisions of a target-VMAF encode: where the samples are, which CRF to try next, and which
// CRF to encode the whole input with. VMAF falls with CRF, close to a straight line over a few
// steps; the search brackets the target with measured points and interpolates between the two
// nearest, so it usually needs three encodes of the samples.
import type { VideoCodecName } from '@kubeff/crds';

export type SearchCodec = Extract<VideoCodecName, 'h264' | 'h265' | 'vp9' | 'av1'>;

export interface CrfScale {
  min: number;
  max: number;
  /** Where the search starts: about VMAF 90–93 on typical content. */
  start: number;
  /** VMAF points one CRF step costs, roughly: the first guess at the slope before two points are known. */
  slope: number;
  /** Whether the encoder takes a fractional CRF (x264, x265). */
  fractional: boolean;
}

/** Each encoder's CRF scale (NVENC's -cq shares x264's range). */
export function crfScale(codec: SearchCodec, encoder: string): CrfScale {
  if (codec === 'h264' || codec === 'h265' || encoder.endsWith('_nvenc')) {
    return { min: 8, max: 51, start: codec === 'h265' ? 26 : 23, slope: 1.3, fractional: !encoder.endsWith('_nvenc') };
  }
  if (encoder === 'libsvtav1') return { min: 10, max: 63, start: 35, slope: 0.8, fractional: false };
  return { min: 10, max: 63, start: codec === 'vp9' ? 33 : 32, slope: 0.8, fractional: false };
}

/** A measured encode of the samples. */
export interface Probe {
  crf: number;
  vmaf: number;
  bitrate?: number | undefined;
}

/** Frames of a finished output VMAF measures at most; past that it takes every n-th (it is about as slow as an encode). */
export const MaxMeasuredFrames = 500;

/** Probes at most, and how close a probe must come to stop early. */
export const MaxProbes = 4;
export const CloseEnough = 0.4;
/** A bracket that spans about this many VMAF points (at the scale's typical slope) is interpolated without another probe. */
export const NarrowBracketVmaf = 5.2;

/** Pure: where the samples start (seconds of the output), spread evenly, and how long each is. */
export function samplePlan(outputSeconds: number, wanted: number): { starts: number[]; seconds: number } {
  // About 4 % of the output in all (at least 1 s, at most 30 s), no sample under a quarter second.
  const total = Math.min(outputSeconds, Math.max(1, Math.min(30, outputSeconds * 0.04)));
  const count = Math.max(1, Math.min(wanted, Math.floor(total / 0.25)));
  const seconds = Math.round((total / count) * 1000) / 1000;
  const starts = Array.from({ length: count }, (_, i) => {
    const centre = ((i + 0.5) * outputSeconds) / count;
    return Math.round(Math.max(0, Math.min(outputSeconds - seconds, centre - seconds / 2)) * 1000) / 1000;
  });
  return { starts, seconds };
}

const roundCrf = (crf: number, s: CrfScale) => {
  const c = Math.min(s.max, Math.max(s.min, crf));
  return s.fractional ? Math.round(c * 10) / 10 : Math.round(c);
};

/** The two probes nearest the target on either side, when the target is bracketed. */
function bracket(probes: readonly Probe[], target: number): { above: Probe; below: Probe } | undefined {
  const above = probes.filter((p) => p.vmaf >= target).sort((a, b) => b.crf - a.crf)[0];
  const below = probes.filter((p) => p.vmaf < target).sort((a, b) => a.crf - b.crf)[0];
  return above && below ? { above, below } : undefined;
}

/** Pure: the CRF where the line through two probes meets the target. */
function interpolate(a: Probe, b: Probe, target: number): number {
  if (Math.abs(a.vmaf - b.vmaf) < 1e-6) return (a.crf + b.crf) / 2;
  return a.crf + ((target - a.vmaf) * (b.crf - a.crf)) / (b.vmaf - a.vmaf);
}

/**
 * Pure: the next CRF to try, or undefined when the search is done. Done: a probe within
 * CloseEnough of the target, the target bracketed by neighbouring CRFs, the scale's end reached,
 * or MaxProbes spent.
 */
export function nextCrf(probes: readonly Probe[], target: number, s: CrfScale): number | undefined {
  if (!probes.length) return s.start;
  if (probes.length >= MaxProbes || probes.some((p) => Math.abs(p.vmaf - target) <= CloseEnough)) return undefined;
  const b = bracket(probes, target);
  const tried = new Set(probes.map((p) => p.crf));
  if (b) {
    const step = s.fractional ? 0.5 : 1;
    // VMAF is close to a straight line over a few CRF steps: a narrow bracket is interpolated.
    if (b.below.crf - b.above.crf <= Math.max(step, NarrowBracketVmaf / s.slope)) return undefined;
    const c = roundCrf(interpolate(b.above, b.below, target), s);
    // Keep strictly inside the bracket, or the search would not narrow it.
    const inside = Math.min(b.below.crf - step / 2, Math.max(b.above.crf + step / 2, c));
    const next = roundCrf(inside, s);
    return tried.has(next) ? undefined : next;
  }
  // Not bracketed yet: step along the slope (measured once there are two points), a little past
  // the target so the next probe brackets it.
  const sorted = [...probes].sort((a, b2) => a.crf - b2.crf);
  const lo = sorted[0] as Probe;
  const hi = sorted[sorted.length - 1] as Probe;
  const slope = probes.length >= 2 && hi.crf > lo.crf ? Math.max(0, (lo.vmaf - hi.vmaf) / (hi.crf - lo.crf)) : s.slope;
  const allAbove = probes.every((p) => p.vmaf >= target);
  const from = allAbove ? hi : lo;
  if ((allAbove && from.crf >= s.max) || (!allAbove && from.crf <= s.min)) return undefined;
  // Two points and no measurable slope: the quality does not follow the CRF here; go to the end.
  if (probes.length >= 2 && slope < 0.2) return roundCrf(allAbove ? s.max : s.min, s);
  // Step a little past where the slope puts the target, so the next probe brackets it.
  const delta = (from.vmaf - target) / Math.max(0.2, slope);
  const next = roundCrf(from.crf + delta * 1.2 + (allAbove ? 1.5 : -1.5), s);
  return tried.has(next) ? undefined : next;
}

/**
 * Pure: the CRF for the whole encode and the VMAF it should give. Inside a bracket: the
 * interpolated CRF (rounded down for integer scales, so the target is reached); otherwise the
 * probe nearest the target.
 */
export function chooseCrf(probes: readonly Probe[], target: number, s: CrfScale): { crf: number; predictedVmaf: number } {
  if (!probes.length) throw new Error('internal: a CRF search needs probes');
  const close = [...probes].sort((a, b) => Math.abs(a.vmaf - target) - Math.abs(b.vmaf - target))[0] as Probe;
  const b = bracket(probes, target);
  if (!b) {
    // Never bracketed: every probe above the target takes the cheapest, every probe below the best.
    const pick = probes.every((p) => p.vmaf >= target)
      ? [...probes].sort((x, y) => y.crf - x.crf)[0] as Probe
      : [...probes].sort((x, y) => x.crf - y.crf)[0] as Probe;
    return { crf: pick.crf, predictedVmaf: pick.vmaf };
  }
  if (Math.abs(close.vmaf - target) <= CloseEnough / 2) return { crf: close.crf, predictedVmaf: close.vmaf };
  let crf = interpolate(b.above, b.below, target);
  crf = s.fractional ? Math.round(crf * 10) / 10 : Math.floor(crf + 1e-9);
  crf = Math.min(b.below.crf, Math.max(b.above.crf, crf));
  const t = (crf - b.above.crf) / (b.below.crf - b.above.crf);
  return { crf, predictedVmaf: Math.round((b.above.vmaf + t * (b.below.vmaf - b.above.vmaf)) * 100) / 100 };
}

/** Pure: a score summary of per-frame VMAF values: mean, 5th percentile, minimum. */
export function vmafSummary(frames: readonly number[], mean?: number): { mean: number; p5: number; min: number } {
  const sorted = [...frames].sort((a, b) => a - b);
  // From the frames themselves when there are any, so mean, 5th percentile and minimum agree.
  const avg = sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : (mean ?? 0);
  const p5 = sorted.length ? (sorted[Math.min(sorted.length - 1, Math.floor(0.05 * (sorted.length - 1)))] as number) : avg;
  const r = (n: number) => Math.round(n * 1000) / 1000;
  // Equal frames (a still) can round their 5th percentile a hair above their mean.
  return { mean: r(avg), p5: Math.min(r(p5), r(avg)), min: Math.min(r(sorted[0] ?? avg), r(p5), r(avg)) };
}
