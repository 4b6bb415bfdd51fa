// Quality metrics through the real worker, checked against the same FFmpeg run directly.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toolsFromEnv } from '../../worker-image/src/tools.ts';
import { vmafStyle } from '../../worker-image/src/capabilities.ts';
import { ffmpegBin, makeSource, makeStorage, type StorageRoot } from '../support/media.ts';
import { expectCompleted, runRequest } from '../support/worker.ts';

let storage: StorageRoot;
let vmafFfmpeg: string;
let vmafFilter: string;
const reference = '/storage/ref/original.mp4';
const distorted = '/storage/enc/processed.mp4';
const smaller = '/storage/enc/small.mp4';

beforeAll(async () => {
  storage = makeStorage();
  makeSource(storage.host(reference), { seconds: 2, args: ['-c:v', 'libx264', '-crf', '10', '-preset', 'ultrafast'] });
  mkdirSync(storage.host('/storage/enc'), { recursive: true });
  execFileSync(ffmpegBin, ['-v', 'error', '-y', '-i', storage.host(reference), '-c:v', 'libx264', '-crf', '38', '-preset', 'ultrafast', '-an', storage.host(distorted)]);
  execFileSync(ffmpegBin, ['-v', 'error', '-y', '-i', storage.host(reference), '-vf', 'scale=160:120', '-c:v', 'libx264', '-crf', '30', '-an', storage.host(smaller)]);
  const found = await Promise.all(toolsFromEnv().vmafCandidates.map(async (f) => ({ f, style: await vmafStyle(f) })));
  const first = found.find((x) => x.style !== undefined);
  if (!first) throw new Error('no FFmpeg with libvmaf found: install the @ffmpeg-installer/linux-x64 package');
  vmafFfmpeg = first.f;
  // The option spelling of the libvmaf the worker picked (1.x: model_path, 2.x and later: model=path).
  vmafFilter = first.style === 'model' ? 'libvmaf=model=path=vmaf_v0.6.1.json' : 'libvmaf=model_path=vmaf_v0.6.1.pkl';
});
afterAll(() => storage.remove());

/** FFmpeg run by hand, the way a user would, to compare with what the worker reports (summaries are on stderr). */
function directStderr(filter: string, dist: string, ref: string, preDist = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'kubeff-direct-'));
  copyFileSync(join(import.meta.dirname, '../../worker-image/vmaf/vmaf_float_v0.6.1.pkl'), join(dir, 'vmaf_v0.6.1.pkl'));
  copyFileSync(join(import.meta.dirname, '../../worker-image/vmaf/vmaf_float_v0.6.1.pkl.model'), join(dir, 'vmaf_v0.6.1.pkl.model'));
  copyFileSync(join(import.meta.dirname, '../../worker-image/vmaf/vmaf_v0.6.1.json'), join(dir, 'vmaf_v0.6.1.json'));
  const graph = `[0:v]${preDist}format=yuv420p,setpts=PTS-STARTPTS[d];[1:v]format=yuv420p,setpts=PTS-STARTPTS[r];[d][r]${filter}`;
  const out = execFileSync('sh', ['-c', `"$0" -hide_banner -i "$1" -i "$2" -filter_complex "$3" -f null - 2>&1`, vmafFfmpeg, dist, ref, graph], { cwd: dir, encoding: 'utf8' });
  rmSync(dir, { recursive: true, force: true });
  return out;
}

describe('analyze', () => {
  it('reports PSNR, SSIM and VMAF equal to FFmpeg run directly on the same files', async () => {
    const r = expectCompleted(await runRequest(storage, 'analyze', { input: distorted, reference, metrics: ['vmaf', 'psnr', 'ssim'] }));
    const m = r.result.metrics;
    const dist = storage.host(distorted);
    const ref = storage.host(reference);
    const psnr = /PSNR .*average:(\S+) min:(\S+) max:(\S+)/.exec(directStderr('psnr', dist, ref));
    const ssim = /SSIM .*All:(\S+)/.exec(directStderr('ssim', dist, ref));
    const vmaf = /VMAF score[:=]\s*(\S+)/.exec(directStderr(vmafFilter, dist, ref));
    expect(psnr && ssim && vmaf, 'FFmpeg printed all three summaries').toBeTruthy();
    expect(m?.psnr?.mean).toBeCloseTo(Number(psnr?.[1]), 2);
    expect(m?.psnr?.min).toBeCloseTo(Number(psnr?.[2]), 2);
    expect(m?.psnr?.max).toBeCloseTo(Number(psnr?.[3]), 2);
    expect(m?.ssim?.mean).toBeCloseTo(Number(ssim?.[1]), 5);
    expect(m?.vmaf?.mean).toBeCloseTo(Number(vmaf?.[1]), 3);
    expect(m?.vmaf?.mean, 'a crf 38 encode is visibly worse than its source').toBeLessThan(95);
    expect(m?.vmaf?.min).toBeLessThanOrEqual(m?.vmaf?.mean ?? 0);
    expect(m?.vmaf?.max).toBeGreaterThanOrEqual(m?.vmaf?.mean ?? 100);
    expect(m?.frames).toBe(50);
  });

  it('writes per-frame values for every metric to a report in storage', async () => {
    const r = expectCompleted(await runRequest(storage, 'analyze', { input: distorted, reference, metrics: ['psnr', 'ssim'], output: '/storage/reports/q1' }));
    expect(r.result.metrics?.perFramePath).toBe('/storage/reports/q1/metrics.json');
    const report = JSON.parse(readFileSync(storage.host('/storage/reports/q1/metrics.json'), 'utf8')) as { frames: { n: number; psnr: number; ssim: number }[] };
    expect(report.frames).toHaveLength(50);
    for (const f of report.frames) {
      expect(f.psnr).toBeGreaterThan(10);
      expect(f.ssim).toBeGreaterThan(0.3);
      expect(f.ssim).toBeLessThanOrEqual(1);
    }
    expect(Math.min(...report.frames.map((f) => f.psnr))).toBeCloseTo(r.result.metrics?.psnr?.min ?? 0, 2);
  });

  it('scales a smaller distorted video to the reference size before comparing', async () => {
    const r = expectCompleted(await runRequest(storage, 'analyze', { input: smaller, reference, metrics: ['psnr'] }));
    const psnr = /PSNR .*average:(\S+)/.exec(directStderr('psnr', storage.host(smaller), storage.host(reference), 'scale=320:240:flags=bicubic,'));
    expect(r.result.metrics?.psnr?.mean).toBeCloseTo(Number(psnr?.[1]), 2);
  });

  it('scores a file against itself as identical', async () => {
    const r = expectCompleted(await runRequest(storage, 'analyze', { input: reference, reference, metrics: ['ssim', 'psnr'] }));
    expect(r.result.metrics?.ssim?.mean).toBe(1);
    expect(r.result.metrics?.psnr?.mean).toBe(100);
  });

  it('fails with INVALID_INPUT when the reference has no video', async () => {
    makeSource(storage.host('/storage/ref/audio.m4a'), { video: false, args: ['-c:a', 'aac'] });
    const r = await runRequest(storage, 'analyze', { input: distorted, reference: '/storage/ref/audio.m4a', metrics: ['psnr'] });
    expect(r.result.status).toBe('failed');
    expect(r.result.error).toMatchObject({ code: 'INVALID_INPUT', field: 'reference', retryable: false });
    expect(r.exitCode).toBe(65);
  });
});

