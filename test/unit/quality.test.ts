import { describe, expect, it } from 'vitest';
import { normalizeRequest } from '../../crds/src/normalize.ts';
import { SpecError } from '../../crds/src/errors.ts';
import { candidateSizes, chooseRungs, convexHull, crfFor, defaultMaxBitrate, guessLadder, vmafAt, type SamplePoint } from '../../worker-image/src/quality/ladder.ts';
import { betterSetting, gateShortfall, metricsToMeasure, segmentRates, withBandwidths } from '../../worker-image/src/quality/run.ts';
import { chooseCrf, crfScale, nextCrf, samplePlan, vmafSummary, type Probe } from '../../worker-image/src/quality/search.ts';

/** A synthetic encoder: VMAF falls linearly with CRF (slope per step), saturating at 99. */
const linear = (at23: number, slope: number) => (crf: number) => Math.min(99, at23 - slope * (crf - 23));

/** Runs the search against a curve as the worker would, probe by probe. */
function search(curve: (crf: number) => number, target: number, codec: 'h264' | 'vp9' = 'h264'): { probes: Probe[]; chosen: ReturnType<typeof chooseCrf> } {
  const scale = crfScale(codec, codec === 'h264' ? 'libx264' : 'libvpx-vp9');
  const probes: Probe[] = [];
  for (let c = nextCrf(probes, target, scale); c !== undefined; c = nextCrf(probes, target, scale)) probes.push({ crf: c, vmaf: curve(c) });
  return { probes, chosen: chooseCrf(probes, target, scale) };
}

describe('samplePlan', () => {
  it.each([
    { seconds: 10, wanted: 4, count: 4, each: 0.25, why: 'a short input: 1 s of samples in all' },
    { seconds: 600, wanted: 4, count: 4, each: 6, why: '4 % of ten minutes' },
    { seconds: 7200, wanted: 4, count: 4, each: 7.5, why: 'at most 30 s in all' },
    { seconds: 0.6, wanted: 4, count: 2, each: 0.3, why: 'an input shorter than 1 s: all of it, no sample under a quarter second' },
    { seconds: 30, wanted: 10, count: 4, each: 0.3, why: 'more samples than quarter-seconds asked: fewer samples' },
  ])('$why', ({ seconds, wanted, count, each }) => {
    const p = samplePlan(seconds, wanted);
    expect(p.starts).toHaveLength(count);
    expect(p.seconds).toBeCloseTo(each, 3);
    for (const s of p.starts) {
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s + p.seconds).toBeLessThanOrEqual(seconds + 1e-9);
    }
    // Spread over the whole: the first in the first part, the last in the last.
    expect(p.starts[0]).toBeLessThan(seconds / count);
    expect(p.starts[p.starts.length - 1]).toBeGreaterThanOrEqual(seconds - seconds / count - p.seconds);
  });
});

describe('the CRF search', () => {
  it.each([
    { name: 'easy content (VMAF 97 at CRF 23)', curve: linear(97, 1.2), target: 93 },
    { name: 'hard content (VMAF 85 at CRF 23)', curve: linear(85, 1.5), target: 93 },
    { name: 'content near the target from the start', curve: linear(93.2, 1.3), target: 93 },
    { name: 'a flat curve', curve: linear(95, 0.4), target: 93 },
  ])('lands within 0.5 of the target on $name, in at most 5 probes', ({ curve, target }) => {
    const { probes, chosen } = search(curve, target);
    expect(probes.length).toBeLessThanOrEqual(5);
    expect(Math.abs(curve(chosen.crf) - target), JSON.stringify({ probes, chosen })).toBeLessThanOrEqual(0.5);
    expect(Math.abs(chosen.predictedVmaf - curve(chosen.crf))).toBeLessThan(0.1);
  });

  it('takes integer CRFs on VP9 and rounds towards quality (the target is reached)', () => {
    const curve = linear(95, 0.9);
    const { chosen } = search(curve, 93, 'vp9');
    expect(Number.isInteger(chosen.crf)).toBe(true);
    expect(curve(chosen.crf)).toBeGreaterThanOrEqual(93 - 0.45);
  });

  it('stops at the scale\'s end when even its worst quality is above the target', () => {
    const { probes, chosen } = search(() => 98, 93);
    expect(chosen.crf).toBe(51);
    expect(probes.length).toBeLessThanOrEqual(5);
  });

  it('summarizes per-frame scores: mean, 5th percentile, minimum', () => {
    const frames = Array.from({ length: 100 }, (_, i) => 80 + i * 0.2);
    expect(vmafSummary(frames)).toEqual({ mean: 89.9, p5: 80.8, min: 80 });
  });
});

describe('per-title ladder decisions', () => {
  const size = (h: number) => ({ width: Math.round((h * 16) / 9 / 2) * 2, height: h });
  /** Points of a content: quality per resolution saturating at `ceiling`, bits growing as CRF falls. */
  const content = (ceiling: number, bitsAt720: number): SamplePoint[] =>
    [720, 540, 360, 240].flatMap((h, r) => [12, 18, 24, 30, 36].map((crf) => ({
      size: size(h), crf, bitrate: Math.round(bitsAt720 * (h / 720) ** 1.5 * 2 ** ((24 - crf) / 6)), vmaf: Math.max(0, Math.min(ceiling - r * 8, ceiling - r * 8 - (crf - 18) * 1.6)),
    })));

  it('keeps only the points on the upper convex hull of bitrate and VMAF', () => {
    const p = (bitrate: number, vmaf: number): SamplePoint => ({ size: size(720), crf: 0, bitrate, vmaf });
    const hull = convexHull([p(100, 50), p(200, 60), p(300, 62), p(400, 80), p(500, 79), p(800, 90)]);
    expect(hull.map((x) => [x.bitrate, x.vmaf])).toEqual([[100, 50], [400, 80], [800, 90]]);
  });

  it('samples the source size and standard heights below it, four at most', () => {
    expect(candidateSizes({ width: 1920, height: 1080 }).map((s) => s.height)).toEqual([1080, 720, 540, 360]);
    expect(candidateSizes({ width: 1280, height: 720 })).toEqual([{ width: 1280, height: 720 }, { width: 960, height: 540 }, { width: 640, height: 360 }, { width: 426, height: 240 }]);
    expect(candidateSizes({ width: 640, height: 480 }).map((s) => s.height)).toEqual([480, 360, 240]);
  });

  it('gives easy content few, cheap rungs and hard content more rungs and more bits', () => {
    const easy = chooseRungs(content(97, 150_000), { maxVariants: 5 });
    const hard = chooseRungs(content(99, 6_000_000), { maxVariants: 5 });
    expect(easy.length).toBeLessThanOrEqual(2);
    expect(hard.length).toBeGreaterThan(easy.length);
    const bits = (rs: typeof easy) => rs.reduce((a, r) => a + r.bitrate, 0);
    expect(bits(hard)).toBeGreaterThan(4 * bits(easy));
    for (const rs of [easy, hard]) {
      rs.slice(1).forEach((r, i) => {
        expect(r.bitrate, 'each rung at most two thirds of the one above').toBeLessThanOrEqual((rs[i]?.bitrate ?? 0) * (2 / 3) + 1);
        expect(r.vmaf).toBeLessThan(rs[i]?.vmaf ?? 0);
      });
    }
    expect(new Set(hard.map((r) => r.name)).size, 'unique names').toBe(hard.length);
  });

  it('honours max_variants, max_bitrate and min_bitrate', () => {
    const rungs = chooseRungs(content(99, 6_000_000), { maxVariants: 2, maxBitrate: 2_000_000, minBitrate: 400_000 });
    expect(rungs.length).toBeLessThanOrEqual(2);
    for (const r of rungs) {
      expect(r.bitrate).toBeLessThanOrEqual(2_000_000);
      expect(r.bitrate).toBeGreaterThanOrEqual(400_000);
    }
  });

  it('caps the top rung by default at 1.5× a typical bitrate for its size (halved for H.265)', () => {
    expect(defaultMaxBitrate({ width: 1280, height: 720 }, 'h264')).toBe(4_200_000);
    expect(defaultMaxBitrate({ width: 1920, height: 1080 }, 'h265')).toBe(3_750_000);
  });

  it('reads a curve both ways: CRF for a quality, quality for a bitrate (extrapolated below what was sampled)', () => {
    const curve = [{ size: size(720), crf: 18, bitrate: 4000, vmaf: 95 }, { size: size(720), crf: 24, bitrate: 2000, vmaf: 90 }];
    expect(crfFor(curve, 92.5)).toBe(21);
    expect(vmafAt(curve, 2000)).toBe(90);
    expect(vmafAt(curve, 8000)).toBe(95);
    expect(vmafAt(curve, 1000)).toBeCloseTo(85, 5);
  });

  it('guesses a dense ladder for estimates before anything is sampled', () => {
    const g = guessLadder({ width: 1920, height: 1080 }, { maxVariants: 3, maxBitrate: 4_000_000 }, 'h264');
    expect(g.map((v) => [v.height, v.bitrate])).toEqual([[1080, 4_000_000], [720, 2_800_000], [540, 1_600_000]]);
  });
});

describe('honest bandwidths', () => {
  it('measures a rendition\'s peak and average from its segments, the short last one left out of the peak', () => {
    expect(segmentRates([{ bytes: 250_000, seconds: 2 }, { bytes: 500_000, seconds: 2 }, { bytes: 30_000, seconds: 0.04 }])).toEqual({ peak: 2_000_000, average: 1_544_554 });
  });

  it('rewrites BANDWIDTH and adds AVERAGE-BANDWIDTH for each variant, leaving other attributes', () => {
    const master = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2890800,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2"\n720p/index.m3u8\n';
    const out = withBandwidths(master, new Map([['720p/index.m3u8', { peak: 400_000, average: 300_000 }]]));
    expect(out).toBe('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=400000,AVERAGE-BANDWIDTH=300000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2"\n720p/index.m3u8\n');
  });
});

describe('quality gates', () => {
  const gate = { vmafMin: 90, psnrMin: 35, onFail: 'fail' as const };
  it.each([
    { m: { vmaf: { mean: 92, p5: 88, min: 80 }, psnr: 40, every: 1 }, short: undefined },
    { m: { vmaf: { mean: 89.5, p5: 85, min: 80 }, psnr: 40, every: 1 }, short: { metric: 'vmaf', measured: 89.5, required: 90 } },
    { m: { vmaf: { mean: 95, p5: 90, min: 85 }, psnr: 33, every: 1 }, short: { metric: 'psnr', measured: 33, required: 35 } },
  ])('finds the first threshold missed: $short', ({ m, short }) => {
    expect(gateShortfall(gate, m)).toEqual(short);
  });

  it('measures only what a feature asks for', () => {
    expect(metricsToMeasure(true, undefined)).toEqual(['vmaf']);
    expect(metricsToMeasure(false, { psnrMin: 30, ssimMin: 0.9, onFail: 'fail' })).toEqual(['psnr', 'ssim']);
    expect(metricsToMeasure(false, undefined)).toEqual([]);
  });

  it('re-encodes six CRF steps better, or at half again the bitrate', () => {
    const ctx = { spec: normalizeRequest('convert', { input: '/storage/a.mp4', output: '/storage/b.mp4' }), encoders: new Set(['libx264']), acceleration: { decode: 'cpu', encode: 'cpu', reason: '' } } as never;
    expect(betterSetting(ctx, { crf: 30 })).toEqual({ crf: 24 });
    expect(betterSetting(ctx, {})).toEqual({ crf: 17 });
    expect(betterSetting(ctx, { bitrate: 1_000_000 })).toEqual({ bitrate: 1_500_000 });
  });
});

describe('quality fields refused with the field named', () => {
  const refused = (kind: 'convert' | 'stream', body: Record<string, unknown>) => {
    try {
      normalizeRequest(kind, body);
    } catch (err) {
      if (err instanceof SpecError) return err.first;
      throw err;
    }
    throw new Error(`accepted: ${JSON.stringify(body)}`);
  };
  const convert = (video: Record<string, unknown>, options: Record<string, unknown> = {}) => ({ input: '/storage/in.mp4', output: { path: '/storage/out.mp4', video }, options });
  it.each([
    { why: 'target_vmaf 0', body: convert({ target_vmaf: 0 }), field: 'output.video.target_vmaf', message: /at least 10/ },
    { why: 'target_vmaf 101', body: convert({ target_vmaf: 101 }), field: 'output.video.target_vmaf', message: /at most 99/ },
    { why: 'target_vmaf "high"', body: convert({ target_vmaf: 'high' }), field: 'output.video.target_vmaf', message: /number/ },
    { why: 'target_vmaf with crf', body: convert({ target_vmaf: 93, crf: 23 }), field: 'output.video.target_vmaf', message: /cannot be combined with crf/ },
    { why: 'target_vmaf with bitrate', body: convert({ target_vmaf: 93, bitrate: '2M' }), field: 'output.video.target_vmaf', message: /cannot be combined with bitrate/ },
    { why: 'target_vmaf on a stream copy', body: convert({ target_vmaf: 93, codec: 'copy' }), field: 'output.video.target_vmaf', message: /copy/ },
    { why: 'vmaf_samples without a target', body: convert({ vmaf_samples: 4 }), field: 'output.video.vmaf_samples', message: /target_vmaf/ },
    { why: 'vmaf_samples 11', body: convert({ target_vmaf: 93, vmaf_samples: 11 }), field: 'output.video.vmaf_samples', message: /at most 10/ },
    { why: 'a quality_gate with an unknown metric', body: convert({}, { quality_gate: { vmafmin: 90 } }), field: 'options.quality_gate.vmafmin', message: /unknown/ },
    { why: 'a quality_gate with no threshold', body: convert({}, { quality_gate: { on_fail: 'fail' } }), field: 'options.quality_gate', message: /at least one/ },
    { why: 'a quality_gate that is not an object', body: convert({}, { quality_gate: 90 }), field: 'options.quality_gate', message: /object/ },
    { why: 'on_fail "retry"', body: convert({}, { quality_gate: { vmaf_min: 90, on_fail: 'retry' } }), field: 'options.quality_gate.on_fail', message: /reencode/ },
    { why: 'vmaf_min 120', body: convert({}, { quality_gate: { vmaf_min: 120 } }), field: 'options.quality_gate.vmaf_min', message: /at most 100/ },
    { why: 'reencode on a split job', body: convert({}, { parallelism: 2, quality_gate: { vmaf_min: 90, on_fail: 'reencode' } }), field: 'options.quality_gate.on_fail', message: /split/ },
    { why: 'a quality gate on an audio-only output', body: { input: '/storage/in.mp4', output: '/storage/out.mp3', options: { quality_gate: { vmaf_min: 90 } } }, field: 'options.quality_gate', message: /audio-only/ },
    { why: 'verify "yes"', body: convert({}, { verify: 'yes' }), field: 'options.verify', message: /boolean|true or false/ },
  ])('convert: $why → $field', ({ body, field, message }) => {
    const issue = refused('convert', body);
    expect(issue.details.field).toBe(field);
    expect(issue.message).toMatch(message);
  });

  it.each([
    { why: 'max_variants 0', body: { variants: 'auto', max_variants: 0 }, field: 'max_variants', message: /at least 1/ },
    { why: 'max_variants with a fixed ladder', body: { max_variants: 3 }, field: 'max_variants', message: /auto/ },
    { why: 'min_bitrate above max_bitrate', body: { variants: 'auto', min_bitrate: '2M', max_bitrate: '1M' }, field: 'min_bitrate', message: /below max_bitrate/ },
    { why: 'variants "best"', body: { variants: 'best' }, field: 'variants', message: /array/ },
    { why: 'a quality gate on a ladder', body: { variants: 'auto', options: { quality_gate: { vmaf_min: 90 } } }, field: 'options.quality_gate', message: /convert/ },
  ])('stream: $why → $field', ({ body, field, message }) => {
    const issue = refused('stream', { input: '/storage/in.mp4', output: '/storage/ladder', ...body });
    expect(issue.details.field).toBe(field);
    expect(issue.message).toMatch(message);
  });

  it('accepts the quality fields in their canonical form', () => {
    const spec = normalizeRequest('convert', convert({ target_vmaf: 93, max_bitrate: '3M', vmaf_samples: 6 }, { verify: false, quality_gate: { vmaf_min: 90, on_fail: 'reencode' } }));
    expect(spec.output?.video).toMatchObject({ targetVmaf: 93, maxBitrate: 3_000_000, vmafSamples: 6 });
    expect(spec.options).toMatchObject({ verify: false, qualityGate: { vmafMin: 90, onFail: 'reencode' } });
    const ladder = normalizeRequest('stream', { input: '/storage/in.mp4', output: '/storage/l', variants: 'auto', max_variants: 4, codec: 'h265' });
    expect(ladder.stream).toMatchObject({ perTitle: { maxVariants: 4 }, videoCodec: 'h265' });
    expect(ladder.stream?.variants).toBeUndefined();
  });
});
