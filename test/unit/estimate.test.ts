// The estimate model: output length and size, processing time and resources follow from the
// probe of the input and the spec, never from constants.
import { describe, expect, it } from 'vitest';
import type { MediaJobSpec, Operation, OutputSpec, StreamSpec, VideoSettings } from '../../crds/src/spec.ts';
import { normalizeRequest } from '../../crds/src/normalize.ts';
import { estimateJob, type Estimate } from '../../worker-image/src/estimate.ts';
import type { MediaInfo } from '../../worker-image/src/probe.ts';

// ---- builders -------------------------------------------------------------------------------

type InfoMod = (i: MediaInfo) => void;

function aMediaInfo(...mods: InfoMod[]): MediaInfo {
  const info: MediaInfo = {
    formatName: 'mov,mp4,m4a,3gp,3g2,mj2',
    durationSeconds: 60,
    startSeconds: 0,
    sizeBytes: 15_000_000,
    bitrate: 2_000_000,
    isImage: false,
    video: { codec: 'h264', width: 1920, height: 1080, fps: 25, pixelFormat: 'yuv420p', frames: 1500 },
    audio: { codec: 'aac', channels: 2, sampleRate: 48000 },
  };
  for (const m of mods) m(info);
  return info;
}
const lasting = (s: number): InfoMod => (i) => void (i.durationSeconds = s);
const sized = (width: number, height: number): InfoMod => (i) => void (i.video = { ...i.video!, width, height });
const atFps = (fps: number): InfoMod => (i) => void (i.video = { ...i.video!, fps });
const silent: InfoMod = (i) => void (i.audio = undefined);

type SpecMod = (s: MediaJobSpec) => void;

function aConvertSpec(...mods: SpecMod[]): MediaJobSpec {
  const spec: MediaJobSpec = {
    type: 'convert',
    input: { path: '/storage/in/video.mp4' },
    output: { path: '/storage/out/video.mp4', format: 'mp4' },
    operations: [],
    options: { priority: 'normal', hardwareAcceleration: 'auto' },
  };
  for (const m of mods) m(spec);
  return spec;
}
const output = (o: Partial<OutputSpec>): SpecMod => (s) => void (s.output = { ...(s.output as OutputSpec), ...o });
const video = (v: VideoSettings): SpecMod => (s) => void ((s.output as OutputSpec).video = { ...(s.output as OutputSpec).video, ...v });
const ops = (...operations: Operation[]): SpecMod => (s) => void (s.operations = operations);
const nvenc: SpecMod = (s) => void (s.options.hardwareAcceleration = 'nvenc');

function aStreamSpec(stream: Partial<StreamSpec> = {}): MediaJobSpec {
  return {
    type: 'stream',
    input: { path: '/storage/in/video.mp4' },
    operations: [],
    stream: {
      format: 'hls', path: '/storage/out/stream', segmentDuration: 6, videoCodec: 'h264', audioBitrate: 128_000,
      variants: [
        { name: '1080p', height: 1080, bitrate: 5_000_000 },
        { name: '720p', height: 720, bitrate: 2_500_000 },
        { name: '480p', height: 480, bitrate: 1_000_000 },
      ],
      ...stream,
    },
    options: { priority: 'normal', hardwareAcceleration: 'auto' },
  };
}

function anAnalyzeSpec(metrics: ('vmaf' | 'psnr' | 'ssim')[] = ['vmaf', 'psnr', 'ssim']): MediaJobSpec {
  return {
    type: 'analyze', input: { path: '/storage/in/encoded.mp4' }, operations: [],
    analyze: { reference: '/storage/in/original.mp4', metrics },
    options: { priority: 'normal', hardwareAcceleration: 'auto' },
  };
}

const e = (spec: MediaJobSpec, info: MediaInfo, ref?: MediaInfo): Estimate => estimateJob(spec, info, ref);

// ---- tests ------------------------------------------------------------------------------------

describe('estimateJob (convert)', () => {
  it('takes longer and writes more for a longer input', () => {
    const short = e(aConvertSpec(), aMediaInfo(lasting(30)));
    const long = e(aConvertSpec(), aMediaInfo(lasting(300)));
    expect(long.estimated.duration_seconds).toBeGreaterThan(short.estimated.duration_seconds);
    expect(long.estimated.output_size_bytes).toBeGreaterThan(short.estimated.output_size_bytes);
    expect(long.estimated.output_duration_seconds).toBe(300);
  });

  it.each([
    [640, 360, 1280, 720],
    [1280, 720, 1920, 1080],
    [1920, 1080, 3840, 2160],
  ])('estimates %ix%i as quicker and smaller than %ix%i', (w1, h1, w2, h2) => {
    const small = e(aConvertSpec(), aMediaInfo(sized(w1, h1)));
    const big = e(aConvertSpec(), aMediaInfo(sized(w2, h2)));
    expect(big.estimated.duration_seconds, `${w2}x${h2} should take longer than ${w1}x${h1}`).toBeGreaterThan(small.estimated.duration_seconds);
    expect(big.estimated.output_size_bytes).toBeGreaterThan(small.estimated.output_size_bytes);
    expect(big.resources.memory_gb).toBeGreaterThanOrEqual(small.resources.memory_gb);
  });

  it.each([
    [1_000_000, 128_000, 60],
    [5_000_000, 192_000, 120],
    [250_000, 64_000, 10],
  ])('sizes a %i b/s video + %i b/s audio output of %i s as (video+audio)·seconds/8', (vb, ab, seconds) => {
    const est = e(aConvertSpec(video({ bitrate: vb }), output({ audio: { bitrate: ab } })), aMediaInfo(lasting(seconds)));
    const want = ((vb + ab) * seconds) / 8;
    expect(Math.abs(est.estimated.output_size_bytes - want) / want, `size ${est.estimated.output_size_bytes} vs ${want}`).toBeLessThan(0.03);
  });

  it('writes more at a lower CRF than at a higher one', () => {
    const hq = e(aConvertSpec(video({ crf: 18 })), aMediaInfo());
    const lq = e(aConvertSpec(video({ crf: 30 })), aMediaInfo());
    expect(hq.estimated.output_size_bytes).toBeGreaterThan(lq.estimated.output_size_bytes);
  });

  it('shortens the output by a trim', () => {
    const est = e(aConvertSpec(ops({ type: 'trim', start: 10, duration: 20 })), aMediaInfo(lasting(60)));
    expect(est.estimated.output_duration_seconds).toBe(20);
  });

  it('shortens the output to what is left after a trim start', () => {
    const est = e(aConvertSpec(ops({ type: 'trim', start: 45 })), aMediaInfo(lasting(60)));
    expect(est.estimated.output_duration_seconds).toBe(15);
  });

  it.each([
    [2, 30],
    [4, 15],
    [0.5, 120],
  ])('divides the output length by a speed factor of %s', (factor, want) => {
    const est = e(aConvertSpec(ops({ type: 'speed', factor })), aMediaInfo(lasting(60)));
    expect(est.estimated.output_duration_seconds).toBe(want);
  });

  it('combines trim and speed', () => {
    const est = e(aConvertSpec(ops({ type: 'trim', start: 0, end: 40 }, { type: 'speed', factor: 2 })), aMediaInfo(lasting(60)));
    expect(est.estimated.output_duration_seconds).toBe(20);
  });

  it('requires a GPU, and is faster, when nvenc is requested', () => {
    const cpu = e(aConvertSpec(), aMediaInfo());
    const gpu = e(aConvertSpec(nvenc), aMediaInfo());
    expect(cpu.resources.gpu_required).toBe(false);
    expect(gpu.resources.gpu_required).toBe(true);
    expect(gpu.estimated.duration_seconds).toBeLessThan(cpu.estimated.duration_seconds);
  });

  it('gives h265 more cores and more time than h264 for the same input', () => {
    const h264 = e(aConvertSpec(video({ codec: 'h264' })), aMediaInfo());
    const h265 = e(aConvertSpec(video({ codec: 'h265' })), aMediaInfo());
    expect(h265.resources.cpu_cores).toBeGreaterThan(h264.resources.cpu_cores);
    expect(h265.estimated.duration_seconds).toBeGreaterThan(h264.estimated.duration_seconds);
  });

  it('takes longer at a slower preset', () => {
    const fast = e(aConvertSpec(video({ preset: 'veryfast' })), aMediaInfo());
    const slow = e(aConvertSpec(video({ preset: 'veryslow' })), aMediaInfo());
    expect(slow.estimated.duration_seconds).toBeGreaterThan(fast.estimated.duration_seconds);
  });

  it('follows the output size, not the input size, for a downscale', () => {
    const full = e(aConvertSpec(), aMediaInfo(sized(3840, 2160)));
    const down = e(aConvertSpec(ops({ type: 'scale', width: 1280 })), aMediaInfo(sized(3840, 2160)));
    expect(down.estimated.output_size_bytes).toBeLessThan(full.estimated.output_size_bytes);
    expect(down.resources.cpu_cores).toBeLessThan(full.resources.cpu_cores);
  });

  it('counts frames: a higher frame rate takes longer', () => {
    const f25 = e(aConvertSpec(), aMediaInfo(atFps(25)));
    const f60 = e(aConvertSpec(), aMediaInfo(atFps(60)));
    expect(f60.estimated.duration_seconds).toBeGreaterThan(f25.estimated.duration_seconds);
  });

  it('sizes an audio-only output from the audio bitrate alone, on one core', () => {
    const est = e(aConvertSpec(output({ path: '/storage/out/a.mp3', format: 'mp3', audio: { bitrate: 192_000 } })), aMediaInfo(lasting(100)));
    expect(est.estimated.output_size_bytes).toBe((192_000 * 100) / 8);
    expect(est.resources).toEqual({ cpu_cores: 1, memory_gb: 1, gpu_required: false });
  });

  it('sizes a copy from the input bitrate', () => {
    const est = e(aConvertSpec(video({ codec: 'copy' }), output({ path: '/storage/out/v.mkv', format: 'mkv', audio: { codec: 'copy' } })), aMediaInfo(lasting(10), silent));
    expect(est.estimated.output_size_bytes).toBe((2_000_000 * 10) / 8);
  });

  it('gives image outputs (thumbnails) no duration', () => {
    const est = e(
      aConvertSpec(output({ path: '/storage/out/thumb.jpg', format: 'jpg' }), ops({ type: 'thumbnail', timestamp: 5, quality: 'high' })),
      aMediaInfo(),
    );
    expect(est.estimated.output_duration_seconds).toBe(0);
    expect(est.estimated.output_size_bytes).toBeGreaterThan(0);
  });

  it('is a model, not a constant: ten different inputs give ten different estimates', () => {
    const inputs = [
      aMediaInfo(lasting(5)), aMediaInfo(lasting(50)), aMediaInfo(lasting(500)),
      aMediaInfo(sized(640, 360)), aMediaInfo(sized(1280, 720)), aMediaInfo(sized(3840, 2160)),
      aMediaInfo(atFps(24)), aMediaInfo(atFps(50)), aMediaInfo(lasting(7), sized(854, 480)), aMediaInfo(lasting(3600), atFps(30)),
    ];
    const keys = inputs.map((i) => JSON.stringify(e(aConvertSpec(), i).estimated));
    expect(new Set(keys).size, `estimates repeat: ${keys.join('\n')}`).toBe(inputs.length);
  });
});

describe('estimateJob (stream)', () => {
  it('sums the bitrates of the renditions plus audio for the size', () => {
    const est = e(aStreamSpec(), aMediaInfo(lasting(60)));
    expect(est.estimated.output_size_bytes).toBe(Math.round(((5_000_000 + 2_500_000 + 1_000_000 + 128_000) * 60) / 8));
    expect(est.estimated.output_duration_seconds).toBe(60);
  });

  it('leaves out renditions larger than the source', () => {
    const est = e(aStreamSpec(), aMediaInfo(lasting(60), sized(1280, 720)));
    expect(est.estimated.output_size_bytes, '1080p is dropped from a 720p source').toBe(Math.round(((2_500_000 + 1_000_000 + 128_000) * 60) / 8));
  });

  it('grows with every rendition added', () => {
    const one = e(aStreamSpec({ variants: [{ name: '720p', height: 720, bitrate: 2_500_000 }] }), aMediaInfo());
    const three = e(aStreamSpec(), aMediaInfo());
    expect(three.estimated.duration_seconds).toBeGreaterThan(one.estimated.duration_seconds);
    expect(three.estimated.output_size_bytes).toBeGreaterThan(one.estimated.output_size_bytes);
    expect(three.resources.memory_gb).toBeGreaterThan(one.resources.memory_gb);
  });

  it('leaves audio out of the size when the input is silent', () => {
    const est = e(aStreamSpec({ variants: [{ name: '720p', height: 720, bitrate: 2_000_000 }] }), aMediaInfo(lasting(8), silent));
    expect(est.estimated.output_size_bytes).toBe((2_000_000 * 8) / 8);
  });
});

describe('estimateJob (analyze)', () => {
  it('produces no output duration', () => {
    const est = e(anAnalyzeSpec(), aMediaInfo(), aMediaInfo());
    expect(est.estimated.output_duration_seconds).toBe(0);
    expect(est.resources.gpu_required).toBe(false);
  });

  it('takes longer with VMAF than with PSNR alone', () => {
    const vmaf = e(anAnalyzeSpec(['vmaf']), aMediaInfo(), aMediaInfo());
    const psnr = e(anAnalyzeSpec(['psnr']), aMediaInfo(), aMediaInfo());
    expect(vmaf.estimated.duration_seconds).toBeGreaterThan(psnr.estimated.duration_seconds);
  });

  it('measures only as long as the shorter of the two files', () => {
    const shortRef = e(anAnalyzeSpec(), aMediaInfo(lasting(600)), aMediaInfo(lasting(10)));
    const longRef = e(anAnalyzeSpec(), aMediaInfo(lasting(600)), aMediaInfo(lasting(600)));
    expect(shortRef.estimated.duration_seconds).toBeLessThan(longRef.estimated.duration_seconds);
  });
});

describe('estimates account for quality work', () => {
  const info = { formatName: 'mov,mp4', durationSeconds: 60, startSeconds: 0, sizeBytes: 1, bitrate: 5_000_000, video: { codec: 'h264', width: 1920, height: 1080, fps: 25, pixelFormat: 'yuv420p', frames: 1500 }, audio: { codec: 'aac', channels: 2, sampleRate: 48000 }, isImage: false };
  const est = (body: Record<string, unknown>, kind: 'convert' | 'stream' = 'convert') => estimateJob(normalizeRequest(kind, { input: '/storage/in.mp4', ...body }), info);

  it('counts the verification of the output (a full decode), and nothing when it is off', () => {
    const on = est({ output: '/storage/o.mp4' });
    const off = est({ output: '/storage/o.mp4', options: { verify: false } });
    expect(on.estimated.breakdown?.verify_seconds).toBeGreaterThan(0);
    expect(off.estimated.breakdown).toBeUndefined();
    expect(on.estimated.duration_seconds).toBeGreaterThan(off.estimated.duration_seconds);
  });

  it('counts a target-VMAF search on samples and the measurement of the whole output', () => {
    const plain = est({ output: { path: '/storage/o.mp4', video: { crf: 23 } } });
    const target = est({ output: { path: '/storage/o.mp4', video: { target_vmaf: 93 } } });
    expect(target.estimated.breakdown?.quality_search_seconds).toBeGreaterThan(0);
    expect(target.estimated.breakdown?.quality_measure_seconds).toBeGreaterThan(0);
    expect(target.estimated.breakdown?.quality_search_seconds, 'samples are a small part of the input').toBeLessThan(target.estimated.breakdown?.encode_seconds ?? 0);
    expect(target.estimated.duration_seconds).toBeGreaterThan(plain.estimated.duration_seconds);
  });

  it('counts a quality gate\'s measurement, VMAF dearer than PSNR', () => {
    const vmaf = est({ output: '/storage/o.mp4', options: { quality_gate: { vmaf_min: 90 } } });
    const psnr = est({ output: '/storage/o.mp4', options: { quality_gate: { psnr_min: 35 } } });
    expect(vmaf.estimated.breakdown?.quality_measure_seconds).toBeGreaterThan(psnr.estimated.breakdown?.quality_measure_seconds ?? Infinity);
    expect(psnr.estimated.breakdown?.quality_measure_seconds).toBeGreaterThan(0);
  });

  it('counts a per-title ladder\'s sampling', () => {
    const auto = est({ output: '/storage/ladder', variants: 'auto' }, 'stream');
    const fixed = est({ output: '/storage/ladder' }, 'stream');
    expect(auto.estimated.breakdown?.quality_search_seconds).toBeGreaterThan(0);
    expect(fixed.estimated.breakdown?.quality_search_seconds).toBe(0);
  });
});
