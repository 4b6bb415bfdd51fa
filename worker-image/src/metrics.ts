// Quality metrics read back from FFmpeg: the summaries it prints (so our means equal FFmpeg's
// own) and the per-frame files its filters write (for min/max and the per-frame report).
import type { MetricSummary } from '@kubeff/crds';

/** Identical frames give infinite PSNR; JSON has no Infinity, so it is reported as this many dB. */
export const PsnrIdentical = 100;

const toNum = (s: string | undefined) => (s === undefined ? NaN : s === 'inf' ? PsnrIdentical : Number(s));

/** "PSNR y:.. u:.. v:.. average:34.5 min:30.1 max:40.2" from stderr. */
export function parsePsnrSummary(lines: readonly string[]): MetricSummary | undefined {
  const line = [...lines].reverse().find((l) => /PSNR .*average:/.test(l));
  const m = line && /average:(\S+) min:(\S+) max:(\S+)/.exec(line);
  if (!m) return undefined;
  return { mean: toNum(m[1]), min: toNum(m[2]), max: toNum(m[3]) };
}

/** "SSIM Y:.. U:.. V:.. All:0.98 (17.2)" from stderr. */
export function parseSsimMean(lines: readonly string[]): number | undefined {
  const line = [...lines].reverse().find((l) => /SSIM .*All:/.test(l));
  const m = line && /All:(\S+)/.exec(line);
  return m ? Number(m[1]) : undefined;
}

/** Per-frame values from a psnr/ssim stats file: "n:1 ... psnr_avg:34.5 ..." / "n:1 ... All:0.98 (..)". */
export function parseStatsFile(text: string, key: 'psnr_avg' | 'All'): number[] {
  const re = new RegExp(`${key}:(\\S+)`);
  return text
    .split('\n')
    .map((l) => re.exec(l)?.[1])
    .filter((v): v is string => v !== undefined)
    .map(toNum);
}

/** libvmaf JSON log (1.x and 2.x): per-frame scores and the pooled mean. */
export function parseVmafLog(json: string): { frames: number[]; mean: number | undefined } {
  const raw = JSON.parse(json) as {
    frames?: { metrics?: { vmaf?: number } }[];
    'VMAF score'?: number;
    pooled_metrics?: { vmaf?: { mean?: number } };
    aggregate?: { VMAF_score?: number };
  };
  const frames = (raw.frames ?? []).map((f) => f.metrics?.vmaf).filter((v): v is number => typeof v === 'number');
  const mean = raw.pooled_metrics?.vmaf?.mean ?? raw['VMAF score'] ?? raw.aggregate?.VMAF_score;
  return { frames, mean };
}

/** "VMAF score: 91.23" printed by libvmaf 1.x/2.x. */
export function parseVmafScore(lines: readonly string[]): number | undefined {
  const line = [...lines].reverse().find((l) => /VMAF score\s*[:=]/.test(l));
  const m = line && /VMAF score\s*[:=]\s*(\S+)/.exec(line);
  return m ? Number(m[1]) : undefined;
}

export function summarize(values: readonly number[], mean?: number): MetricSummary | undefined {
  if (values.length === 0 && mean === undefined) return undefined;
  const avg = mean ?? values.reduce((a, b) => a + b, 0) / values.length;
  return { mean: round(avg), min: round(Math.min(...values, ...(values.length ? [] : [avg]))), max: round(Math.max(...values, ...(values.length ? [] : [avg]))) };
}

export function round(n: number, places = 6): number {
  return Number(n.toFixed(places));
}
