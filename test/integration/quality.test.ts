// Quality-driven encoding with real FFmpeg and a real libvmaf: target-VMAF encodes on three
// sources of very different complexity (the measured VMAF of the whole output within ±1.0 of the
// target, CRFs that follow the content), with split-and-stitch too; the quality gate failing a
// bad encode, or re-encoding it once above the threshold; per-title ladders that spend little on
// a static slate and more on noise, with honest bandwidths in the master playlist.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeRequest } from '../../crds/src/normalize.ts';
import { parseMasterPlaylist, parseMediaPlaylist } from '../../worker-image/src/verify.ts';
import { ffmpegBin, ffprobe, makeStorage, type StorageRoot } from '../support/media.ts';
import { startGateway, waitForJob, type TestGateway } from '../support/gateway.ts';
import { expectCompleted, runRequest, runSpec, runSplit } from '../support/worker.ts';

let storage: StorageRoot;

/** Generated sources: a still slate (detail, no motion), moving testsrc2, and testsrc2 under heavy noise. */
const sources = {
  slate: 'testsrc2=size=640x360:rate=25:duration=1,trim=end_frame=1,loop=loop=150:size=1:start=0,setpts=N/25/TB',
  moving: 'testsrc2=size=640x360:rate=25:duration=6',
  noisy: 'testsrc2=size=640x360:rate=25:duration=6,noise=alls=40:allf=t+u',
} as const;

function makeGenerated(path: string, lavfi: string, seconds = 6): void {
  mkdirSync(join(storage.root, 'in'), { recursive: true });
  execFileSync(ffmpegBin, ['-v', 'error', '-y', '-f', 'lavfi', '-i', lavfi, '-f', 'lavfi', '-i', `sine=frequency=330:duration=${seconds}`, '-t', String(seconds), '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-crf', '4', '-preset', 'ultrafast', '-c:a', 'aac', '-shortest', storage.host(path)]);
}

beforeAll(() => {
  storage = makeStorage('kubeff-quality-');
  for (const [name, lavfi] of Object.entries(sources)) makeGenerated(`/storage/in/${name}.mp4`, lavfi);
});
afterAll(() => storage.remove());

const targetSpec = (name: string, target: number, extra: Record<string, unknown> = {}, options: Record<string, unknown> = {}) =>
  normalizeRequest('convert', { input: `/storage/in/${name}.mp4`, output: { path: `/storage/out/${name}-${target}-${Object.keys(options).join('')}.mp4`, video: { codec: 'h264', preset: 'veryfast', target_vmaf: target, ...extra } }, options: { hardware_acceleration: 'none', ...options } });

describe('target VMAF', () => {
  const crfs: Record<string, number> = {};

  it.each(Object.keys(sources))('encodes the %s source to VMAF 93 ± 1.0, measured on the whole output', async (name) => {
    const r = expectCompleted(await runSpec(storage, targetSpec(name, 93)));
    const q = r.result.quality?.targetVmaf;
    expect(q, JSON.stringify(r.result)).toBeDefined();
    expect(q?.target).toBe(93);
    expect(q?.measured?.mean, `measured ${JSON.stringify(q?.measured)}, probes ${JSON.stringify(q?.probes)}`).toBeGreaterThanOrEqual(92);
    expect(q?.measured?.mean).toBeLessThanOrEqual(94);
    expect(q?.measured?.p5).toBeLessThanOrEqual(q?.measured?.mean ?? 0);
    expect(Math.abs((q?.predictedVmaf ?? 0) - (q?.measured?.mean ?? 0)), 'the samples predicted the whole').toBeLessThan(1.5);
    expect(q?.probes.length).toBeGreaterThanOrEqual(1);
    expect(q?.probes.length).toBeLessThanOrEqual(5);
    expect(q?.samples).toBeGreaterThanOrEqual(1);
    expect(q?.searchSeconds).toBeGreaterThan(0);
    crfs[name] = q?.crf as number;
    // The output is encoded with the chosen CRF: x264 writes its settings into the stream.
    const info = execFileSync('sh', ['-c', `strings "$0" | grep -m1 -o "crf=[0-9.]*"`, storage.host(r.result.outputs[0]?.path as string)], { encoding: 'utf8' }).trim();
    expect(Number(info.split('=')[1])).toBeCloseTo(q?.crf as number, 1);
  }, 120_000);

  it('chooses CRFs that follow the content: noise needs the lowest, the still slate affords the highest', () => {
    expect(Object.keys(crfs)).toHaveLength(3);
    expect(crfs['noisy'], JSON.stringify(crfs)).toBeLessThan(crfs['moving'] as number);
    expect(crfs['moving'], JSON.stringify(crfs)).toBeLessThan(crfs['slate'] as number);
  });

  it('works split and stitched: one search in the plan step, every chunk at its CRF, the stitched output within ± 1.0', async () => {
    const ran = await runSplit(storage, targetSpec('moving', 93, {}, { parallelism: 2 }), { capacity: 2 });
    const merge = ran.merge ? expectCompleted(ran.merge) : undefined;
    const q = merge?.result.quality?.targetVmaf;
    expect(merge?.result.chunking?.count).toBe(2);
    expect(q?.measured?.mean, JSON.stringify(q)).toBeGreaterThanOrEqual(92);
    expect(q?.measured?.mean).toBeLessThanOrEqual(94);
  }, 120_000);

  it('holds a max_bitrate cap while searching', async () => {
    const r = expectCompleted(await runSpec(storage, targetSpec('noisy', 97, { max_bitrate: '1M' })));
    const bitrate = (statSync(storage.host(r.result.outputs[0]?.path as string)).size * 8) / 6;
    expect(bitrate, 'the whole file, audio included, stays near the cap').toBeLessThan(1_300_000);
    expect(r.result.quality?.targetVmaf?.measured?.mean, 'the cap, not the CRF, limits the quality here').toBeLessThan(96);
  }, 120_000);
});

describe('quality gate', () => {
  const gated = (onFail: string) => normalizeRequest('convert', {
    input: '/storage/in/moving.mp4', output: { path: `/storage/out/gated-${onFail}.mp4`, video: { codec: 'h264', preset: 'veryfast', crf: 45 } },
    options: { hardware_acceleration: 'none', quality_gate: { vmaf_min: 90, on_fail: onFail } },
  });

  it('fails a deliberately bad encode (CRF 45) with QUALITY_BELOW_TARGET, what was measured and required, and nothing published', async () => {
    const r = await runSpec(storage, gated('fail'));
    expect(r.result.status).toBe('failed');
    expect(r.exitCode).toBe(70);
    expect(r.result.error).toMatchObject({ code: 'QUALITY_BELOW_TARGET', field: 'options.quality_gate.vmaf_min', retryable: false, details: { metric: 'vmaf', required: 90 } });
    expect(r.result.error?.details?.measured).toBeLessThan(90);
    expect(existsSync(storage.host('/storage/out/gated-fail.mp4'))).toBe(false);
  }, 120_000);

  it('with on_fail "reencode", re-encodes once at a better setting and completes above the threshold', async () => {
    const r = expectCompleted(await runSpec(storage, gated('reencode')));
    const g = r.result.quality?.gate;
    expect(g, JSON.stringify(r.result.quality)).toMatchObject({ passed: true });
    expect(g?.vmaf).toBeGreaterThanOrEqual(90);
    expect(g?.reencoded?.crf).toBeLessThan(45);
  }, 120_000);

  it('passes PSNR and SSIM thresholds an encode meets, and reports what it measured', async () => {
    const r = expectCompleted(await runRequest(storage, 'convert', { input: '/storage/in/moving.mp4', output: { path: '/storage/out/gated-psnr.mp4', video: { preset: 'veryfast', crf: 20 } }, options: { quality_gate: { psnr_min: 30, ssim_min: 0.9 } } }));
    expect(r.result.quality?.gate).toMatchObject({ passed: true });
    expect(r.result.quality?.gate?.psnr).toBeGreaterThan(30);
    expect(r.result.quality?.gate?.ssim).toBeGreaterThan(0.9);
    expect(r.result.quality?.gate?.vmaf, 'VMAF is not measured when no threshold asks for it').toBeUndefined();
  }, 120_000);
});

describe('per-title ladders', () => {
  const ladderBits = (dir: string) => {
    // Every video rendition's average bitrate, from what it wrote.
    const master = readFileSync(join(dir, 'master.m3u8'), 'utf8');
    return parseMasterPlaylist(master).filter((u) => !u.startsWith('audio/')).map((uri) => {
      const list = parseMediaPlaylist(readFileSync(join(dir, uri), 'utf8'));
      const folder = join(dir, uri.split('/')[0] as string);
      const bytes = list.segments.reduce((a, s) => a + statSync(join(folder, s.uri)).size, 0);
      const seconds = list.segments.reduce((a, s) => a + s.seconds, 0);
      return { uri, bitrate: (bytes * 8) / seconds };
    });
  };
  /** VMAF of a rendition against the source, upscaled to it (analyze scales the distorted to the reference). */
  const vmafOf = async (dir: string, uri: string, source: string) => {
    const mp4 = join(dir, `${uri.split('/')[0]}.mp4`);
    execFileSync(ffmpegBin, ['-v', 'error', '-y', '-i', join(dir, uri), '-map', '0:v', '-c', 'copy', mp4]);
    const r = expectCompleted(await runRequest(storage, 'analyze', { input: mp4.replace(storage.root, '/storage'), reference: source, metrics: ['vmaf'] }));
    return r.result.metrics?.vmaf?.mean ?? NaN;
  };

  it('on a static slate spends at most 0.8× the fixed ladder\'s bits, every fixed rung matched in quality by a rung that costs no more', async () => {
    makeGenerated('/storage/in/slate720.mp4', sources.slate.replace('640x360', '1280x720'));
    const auto = expectCompleted(await runRequest(storage, 'stream', { input: '/storage/in/slate720.mp4', output: '/storage/out/slate-auto', variants: 'auto', segment_duration: 2 }));
    const fixed = expectCompleted(await runRequest(storage, 'stream', { input: '/storage/in/slate720.mp4', output: '/storage/out/slate-fixed', segment_duration: 2 }));
    const rungs = auto.result.quality?.ladder ?? [];
    expect(rungs.length, 'a still slate needs few rungs').toBeLessThanOrEqual(2);
    const autoDir = storage.host('/storage/out/slate-auto');
    const fixedDir = storage.host('/storage/out/slate-fixed');
    const a = ladderBits(autoDir);
    const f = ladderBits(fixedDir);
    const sum = (xs: { bitrate: number }[]) => xs.reduce((s, x) => s + x.bitrate, 0);
    expect(sum(a), `auto ${JSON.stringify(a)} vs fixed ${JSON.stringify(f)}`).toBeLessThanOrEqual(0.8 * sum(f));
    const autoScores = await Promise.all(a.map(async (x) => ({ ...x, vmaf: await vmafOf(autoDir, x.uri, '/storage/in/slate720.mp4') })));
    for (const rung of f) {
      const vmaf = await vmafOf(fixedDir, rung.uri, '/storage/in/slate720.mp4');
      // Equal (within one VMAF point: a sixth of a just-noticeable difference; a still frame caps
      // VMAF near 97) or better, for no more bits.
      const match = autoScores.find((x) => x.vmaf >= vmaf - 1 && x.bitrate <= rung.bitrate);
      expect(match, `fixed ${rung.uri} VMAF ${vmaf.toFixed(2)} at ${Math.round(rung.bitrate)} b/s; auto ${JSON.stringify(autoScores)}`).toBeDefined();
    }
  }, 240_000);

  it('on noise spends more than the fixed ladder at the top, over more rungs; every rung reported with its bitrate and VMAF; honest bandwidths; every rendition probes', async () => {
    makeGenerated('/storage/in/noisy720.mp4', sources.noisy.replace('640x360', '1280x720'));
    const auto = expectCompleted(await runRequest(storage, 'stream', { input: '/storage/in/noisy720.mp4', output: '/storage/out/noisy-auto', variants: 'auto', segment_duration: 2 }));
    const fixed = expectCompleted(await runRequest(storage, 'stream', { input: '/storage/in/noisy720.mp4', output: '/storage/out/noisy-fixed', segment_duration: 2 }));
    expect(fixed.result.status).toBe('completed');
    const rungs = auto.result.quality?.ladder ?? [];
    expect(rungs.length).toBeGreaterThanOrEqual(3);
    for (const r of rungs) {
      expect(r.bitrate).toBeGreaterThan(0);
      expect(r.vmaf).toBeGreaterThan(40);
      expect(r.peakBitrate).toBeGreaterThanOrEqual(r.averageBitrate ?? 0);
    }
    const dir = storage.host('/storage/out/noisy-auto');
    // More bits where it shows: the top rung spends more than the fixed ladder's top (2.5 Mb/s).
    const top = (xs: { bitrate: number }[]) => Math.max(...xs.map((x) => x.bitrate));
    expect(top(ladderBits(dir))).toBeGreaterThan(top(ladderBits(storage.host('/storage/out/noisy-fixed'))));
    // The master playlist's bandwidths are the ones measured, with AVERAGE-BANDWIDTH.
    const master = readFileSync(join(dir, 'master.m3u8'), 'utf8');
    for (const r of rungs) {
      const line = master.split('\n').find((l, i, all) => all[i + 1]?.trim() === `${r.name}/index.m3u8`) ?? '';
      expect(line, `${r.name} in ${master}`).toContain(`BANDWIDTH=${r.peakBitrate},AVERAGE-BANDWIDTH=${r.averageBitrate}`);
      const probe = ffprobe(join(dir, r.name, 'index.m3u8'));
      expect(probe.streams.find((s) => s.codec_type === 'video')).toMatchObject({ width: r.width, height: r.height });
    }
    expect(readdirSync(dir)).toContain('audio');
  }, 240_000);
});

describe('quality through the API', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway();
    mkdirSync(gw.storage.host('/storage/in'), { recursive: true });
    execFileSync(ffmpegBin, ['-v', 'error', '-y', '-f', 'lavfi', '-i', sources.moving, '-t', '4', '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-crf', '4', '-preset', 'ultrafast', gw.storage.host('/storage/in/moving.mp4')]);
  }, 60_000);
  afterAll(async () => gw?.stop());

  const post = async (route: string, body: unknown) => {
    const res = await gw.api(`/api/v1/${route}`, { method: 'POST', json: body });
    return { status: res.status, body: (await res.json()) as { job?: { id: string }; error?: { code: string; message: string; details: { field: string } } } };
  };

  it('runs a target-VMAF convert with a gate and shows the chosen CRF, the measured VMAF, the gate and the verification on GET /jobs/{id}', async () => {
    const r = await post('convert', { input: '/storage/in/moving.mp4', output: { path: '/storage/out/api-target.mp4', video: { target_vmaf: 92, preset: 'veryfast' } }, options: { quality_gate: { vmaf_min: 88 } } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const job = await waitForJob(gw, r.body.job?.id as string, { timeoutMs: 90_000 });
    expect(job, JSON.stringify(job['error'])).toMatchObject({ status: 'completed', verification: { outputs: 1 }, quality: { gate: { passed: true }, targetVmaf: { target: 92 } } });
    const q = (job['quality'] as { targetVmaf: { crf: number; measured: { mean: number } } }).targetVmaf;
    expect(Math.abs(q.measured.mean - 92)).toBeLessThanOrEqual(1);
  }, 120_000);

  it('builds a per-title ladder from POST /stream with "variants": "auto"', async () => {
    const r = await post('stream', { input: '/storage/in/moving.mp4', output: '/storage/out/api-auto', variants: 'auto', max_variants: 3, segment_duration: 2 });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const job = await waitForJob(gw, r.body.job?.id as string, { timeoutMs: 120_000 });
    expect(job['status'], JSON.stringify(job['error'])).toBe('completed');
    const ladder = (job['quality'] as { ladder: { name: string }[] }).ladder;
    expect(ladder.length).toBeGreaterThanOrEqual(1);
    expect(ladder.length).toBeLessThanOrEqual(3);
    expect(existsSync(gw.storage.host(`/storage/out/api-auto/${ladder[0]?.name}/index.m3u8`))).toBe(true);
  }, 150_000);

  it.each([
    { route: 'convert', body: { input: '/storage/in/moving.mp4', output: { path: '/storage/out/x.mp4', video: { target_vmaf: 101 } } }, field: 'output.video.target_vmaf' },
    { route: 'convert', body: { input: '/storage/in/moving.mp4', output: { path: '/storage/out/x.mp4', video: { target_vmaf: 93, crf: 20 } } }, field: 'output.video.target_vmaf' },
    { route: 'convert', body: { input: '/storage/in/moving.mp4', output: '/storage/out/x.mp4', options: { quality_gate: { lpips_min: 0.1 } } }, field: 'options.quality_gate.lpips_min' },
    { route: 'stream', body: { input: '/storage/in/moving.mp4', output: '/storage/out/l', variants: 'auto', max_variants: 0 }, field: 'max_variants' },
  ])('refuses $field with a 400 naming it', async ({ route, body, field }) => {
    const r = await post(route, body);
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body.error?.details.field).toBe(field);
  });
});
