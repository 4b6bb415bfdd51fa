// Quality metrics read back from FFmpeg's stderr summaries, stats files and libvmaf logs.
import { describe, expect, it } from 'vitest';
import {
  parsePsnrSummary,
  parseSsimMean,
  parseStatsFile,
  parseVmafLog,
  parseVmafScore,
  PsnrIdentical,
  round,
  summarize,
} from '../../worker-image/src/metrics.ts';

// Lines as FFmpeg 5.1 prints them at the end of a psnr/ssim/libvmaf run.
const stderrTail = [
  "Output #0, null, to 'pipe:':",
  '  Stream #0:0: Video: wrapped_avframe, yuv420p, 320x240 [SAR 1:1 DAR 4:3], q=2-31, 200 kb/s, 25 fps, 25 tbn',
  'frame=   25 fps=0.0 q=-0.0 Lsize=N/A time=00:00:01.00 bitrate=N/A speed=18.5x',
  'video:11kB audio:0kB subtitle:0kB other streams:0kB global headers:0kB muxing overhead: unknown',
  '[Parsed_psnr_1 @ 0x558ae7b256c0] PSNR y:27.209564 u:27.366967 v:27.358808 average:27.260072 min:27.257003 max:27.265775',
  '[Parsed_ssim_2 @ 0x556dea281ec0] SSIM Y:0.590192 (3.874200) U:0.752304 (6.060804) V:0.796137 (6.906615) All:0.651535 (4.578409)',
  '[Parsed_libvmaf_0 @ 0x55f1c0d8a340] VMAF score: 91.234567',
];

const identicalTail = [
  '[Parsed_ssim_3 @ 0x5609fd4fc080] SSIM Y:1.000000 (inf) U:1.000000 (inf) V:1.000000 (inf) All:1.000000 (inf)',
  '[Parsed_psnr_2 @ 0x5609fd4fb040] PSNR y:inf u:inf v:inf average:inf min:inf max:inf',
];

// psnr=stats_file=... lines (note the trailing space FFmpeg writes).
const psnrStats = [
  'n:1 mse_avg:122.09 mse_y:123.64 mse_u:118.99 mse_v:118.99 psnr_avg:27.26 psnr_y:27.21 psnr_u:27.38 psnr_v:27.38 ',
  'n:2 mse_avg:121.50 mse_y:123.01 mse_u:118.40 mse_v:118.52 psnr_avg:27.29 psnr_y:27.23 psnr_u:27.40 psnr_v:27.39 ',
  'n:3 mse_avg:0.00 mse_y:0.00 mse_u:0.00 mse_v:0.00 psnr_avg:inf psnr_y:inf psnr_u:inf psnr_v:inf ',
  '',
].join('\n');

const ssimStats = [
  'n:1 Y:0.590192 U:0.752304 V:0.796137 All:0.651535 (4.578409)',
  'n:2 Y:0.601000 U:0.760000 V:0.800000 All:0.660000 (4.685211)',
  'n:3 Y:1.000000 U:1.000000 V:1.000000 All:1.000000 (inf)',
  '',
].join('\n');

// libvmaf 1.x JSON log (abridged): frames with metrics.vmaf, "VMAF score" and aggregate.
const vmaf1Log = JSON.stringify({
  params: { model: 'vmaf_v0.6.1.pkl', scaledWidth: 1920, scaledHeight: 1080, subsample: 1 },
  metrics: ['adm2', 'motion2', 'vif_scale0', 'vmaf'],
  frames: [
    { frameNum: 0, metrics: { adm2: 0.96, motion2: 0, vif_scale0: 0.7, vmaf: 88.5 } },
    { frameNum: 1, metrics: { adm2: 0.97, motion2: 1.2, vif_scale0: 0.71, vmaf: 90.25 } },
    { frameNum: 2, metrics: { adm2: 0.98, motion2: 1.1, vif_scale0: 0.72, vmaf: 92 } },
  ],
  'VMAF score': 90.25,
  aggregate: { VMAF_feature_adm2_score: 0.97, VMAF_score: 90.25, method: 'mean' },
});

// libvmaf 2.x JSON log (abridged): frames and pooled_metrics.vmaf.mean.
const vmaf2Log = JSON.stringify({
  version: '2.3.1',
  fps: 41.2,
  frames: [
    { frameNum: 0, metrics: { integer_adm2: 0.99, integer_motion2: 0, vmaf: 97.428043 } },
    { frameNum: 1, metrics: { integer_adm2: 0.98, integer_motion2: 0.4, vmaf: 95.1 } },
  ],
  pooled_metrics: {
    integer_adm2: { min: 0.98, max: 0.99, mean: 0.985, harmonic_mean: 0.985 },
    vmaf: { min: 95.1, max: 97.428043, mean: 96.264022, harmonic_mean: 96.25 },
  },
  aggregate_metrics: {},
});

describe('parsePsnrSummary', () => {
  it('reads average, min and max from the PSNR line among other stderr lines', () => {
    expect(parsePsnrSummary(stderrTail)).toEqual({ mean: 27.260072, min: 27.257003, max: 27.265775 });
  });

  it(`reports identical videos (PSNR inf) as ${PsnrIdentical} dB, since JSON has no Infinity`, () => {
    const s = parsePsnrSummary(identicalTail);
    expect(s).toEqual({ mean: PsnrIdentical, min: PsnrIdentical, max: PsnrIdentical });
    expect(JSON.parse(JSON.stringify(s)), 'the summary must survive JSON').toEqual(s);
  });

  it('takes the last PSNR line when several were printed', () => {
    const lines = ['PSNR y:1 u:1 v:1 average:10.0 min:9.0 max:11.0', 'PSNR y:2 u:2 v:2 average:20.0 min:19.0 max:21.0'];
    expect(parsePsnrSummary(lines)?.mean).toBe(20);
  });

  it('gives undefined when there is no PSNR summary', () => {
    expect(parsePsnrSummary(stderrTail.filter((l) => !l.includes('PSNR')))).toBeUndefined();
    expect(parsePsnrSummary([])).toBeUndefined();
  });
});

describe('parseSsimMean', () => {
  it('reads the All value of the SSIM line', () => {
    expect(parseSsimMean(stderrTail)).toBe(0.651535);
  });

  it('reads 1 for identical videos, whose dB value is (inf)', () => {
    expect(parseSsimMean(identicalTail)).toBe(1);
  });

  it('gives undefined without an SSIM line', () => {
    expect(parseSsimMean(['frame=1 fps=0.0'])).toBeUndefined();
  });
});

describe('parseStatsFile', () => {
  it('reads psnr_avg per frame and maps inf to the identical-frame value', () => {
    expect(parseStatsFile(psnrStats, 'psnr_avg')).toEqual([27.26, 27.29, PsnrIdentical]);
  });

  it('reads All per frame from an ssim stats file, not the Y/U/V planes or the dB value', () => {
    expect(parseStatsFile(ssimStats, 'All')).toEqual([0.651535, 0.66, 1]);
  });

  it('gives no values for an empty file', () => {
    expect(parseStatsFile('', 'psnr_avg')).toEqual([]);
  });

  it('produces only finite numbers from a realistic file (nothing that breaks a JSON report)', () => {
    for (const v of [...parseStatsFile(psnrStats, 'psnr_avg'), ...parseStatsFile(ssimStats, 'All')]) {
      expect(Number.isFinite(v), `per-frame value ${v} is not finite`).toBe(true);
    }
  });
});

describe('parseVmafLog', () => {
  it('reads the frames and the "VMAF score" of a libvmaf 1.x log', () => {
    expect(parseVmafLog(vmaf1Log)).toEqual({ frames: [88.5, 90.25, 92], mean: 90.25 });
  });

  it('reads the frames and pooled mean of a libvmaf 2.x log', () => {
    expect(parseVmafLog(vmaf2Log)).toEqual({ frames: [97.428043, 95.1], mean: 96.264022 });
  });

  it('falls back to aggregate.VMAF_score when a 1.x log lacks "VMAF score"', () => {
    const log = JSON.parse(vmaf1Log) as Record<string, unknown>;
    delete log['VMAF score'];
    expect(parseVmafLog(JSON.stringify(log)).mean).toBe(90.25);
  });

  it('skips frames without a vmaf value and reports no mean when the log has none', () => {
    const log = JSON.stringify({ frames: [{ frameNum: 0, metrics: { adm2: 1 } }, { frameNum: 1, metrics: { vmaf: 80 } }, { frameNum: 2 }] });
    expect(parseVmafLog(log)).toEqual({ frames: [80], mean: undefined });
  });

  it('throws on a log that is not JSON (a truncated write)', () => {
    expect(() => parseVmafLog('{"frames": [')).toThrow();
  });
});

describe('parseVmafScore', () => {
  it.each([
    ['[Parsed_libvmaf_0 @ 0x55f1c0d8a340] VMAF score: 91.234567', 91.234567],
    ['[libvmaf @ 0x1] VMAF score=88.5', 88.5],
    ['VMAF score: 100.000000', 100],
  ])('reads %s', (line, want) => {
    expect(parseVmafScore(['frame=1', line, 'video:1kB'])).toBe(want);
  });

  it('gives undefined when libvmaf printed no score', () => {
    expect(parseVmafScore(stderrTail.slice(0, 4))).toBeUndefined();
  });
});

describe('summarize', () => {
  it('gives mean, min and max of per-frame values', () => {
    expect(summarize([1, 2, 3, 6])).toEqual({ mean: 3, min: 1, max: 6 });
  });

  it("uses FFmpeg's own mean when given, with min and max from the frames", () => {
    expect(summarize([88.5, 90.25, 92], 90.1)).toEqual({ mean: 90.1, min: 88.5, max: 92 });
  });

  it('uses the mean for min and max when there are no per-frame values', () => {
    expect(summarize([], 42.5)).toEqual({ mean: 42.5, min: 42.5, max: 42.5 });
  });

  it('gives undefined with neither values nor a mean', () => {
    expect(summarize([])).toBeUndefined();
  });

  it('rounds to six places', () => {
    expect(summarize([1 / 3])).toEqual({ mean: 0.333333, min: 0.333333, max: 0.333333 });
    expect(round(27.2600724999, 3)).toBe(27.26);
  });
});
