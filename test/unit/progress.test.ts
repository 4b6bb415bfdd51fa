// FFmpeg's `-progress pipe:1` stream turned into samples, and samples into percentage and ETA.
import { describe, expect, it } from 'vitest';
import type { MediaJobSpec, Operation } from '../../crds/src/spec.ts';
import { planConvert } from '../../worker-image/src/plan/convert.ts';
import type { PlanContext } from '../../worker-image/src/plan/types.ts';
import type { MediaInfo } from '../../worker-image/src/probe.ts';
import { ProgressParser, progressOf, type ProgressSample } from '../../worker-image/src/progress.ts';

/** One block as FFmpeg 5.x-7.x writes it with -progress pipe:1 (the keys a real run prints). */
function block(fields: Record<string, string>, progress: 'continue' | 'end' = 'continue'): string {
  const defaults: Record<string, string> = {
    frame: '250',
    fps: '49.87',
    'stream_0_0_q': '28.0',
    bitrate: '1024.3kbits/s',
    total_size: '1310720',
    out_time_us: '10000000',
    out_time_ms: '10000000',
    out_time: '00:00:10.000000',
    dup_frames: '0',
    drop_frames: '0',
    speed: '1.99x',
  };
  const all = { ...defaults, ...fields };
  const lines = Object.entries(all)
    .filter(([, v]) => v !== '')
    .map(([k, v]) => `${k}=${v}`);
  return `${lines.join('\n')}\nprogress=${progress}\n`;
}

function sample(over: Partial<ProgressSample> = {}): ProgressSample {
  return { outSeconds: 0, frame: undefined, fps: undefined, speed: undefined, end: false, ...over };
}

/** Feeds text to a fresh parser in pieces of the given sizes (the rest in one piece). */
function feed(text: string, pieces: number[]): ProgressSample[] {
  const parser = new ProgressParser();
  const out: ProgressSample[] = [];
  let at = 0;
  for (const n of pieces) {
    out.push(...parser.push(text.slice(at, at + n)));
    at += n;
  }
  out.push(...parser.push(text.slice(at)));
  return out;
}

describe('ProgressParser', () => {
  const two = block({ out_time_us: '4000000', out_time_ms: '4000000', out_time: '00:00:04.000000', frame: '100' })
    + block({ out_time_us: '8000000', out_time_ms: '8000000', out_time: '00:00:08.000000', frame: '200' });

  it('gives one sample per completed block, with out_time_us read as microseconds', () => {
    const samples = feed(two, []);
    expect(samples.map((s) => s.outSeconds), 'seconds of output per block').toEqual([4, 8]);
    expect(samples.map((s) => s.frame), 'frame counts per block').toEqual([100, 200]);
    expect(samples.every((s) => !s.end), 'progress=continue must not mark the end').toBe(true);
  });

  it.each([
    ['one character at a time', Array.from({ length: two.length }, () => 1)],
    ['split inside a key', [3]],
    ['split inside a value', [two.indexOf('out_time_us=') + 14]],
    ['split just before a newline', [two.indexOf('\n') ]],
    ['split inside "progress=continue"', [two.indexOf('progress=') + 5]],
    ['uneven pieces', [7, 13, 1, 40, 2, 99]],
  ])('gives the same samples when stdout arrives %s', (_name, pieces) => {
    expect(feed(two, pieces), 'samples from split chunks differ from the whole text').toEqual(feed(two, []));
  });

  it('holds a block that is not finished yet until its progress line arrives', () => {
    const parser = new ProgressParser();
    const text = block({ out_time_us: '1500000' });
    const cut = text.indexOf('progress=');
    expect(parser.push(text.slice(0, cut)), 'no sample before the progress line').toEqual([]);
    const samples = parser.push(text.slice(cut));
    expect(samples).toHaveLength(1);
    expect(samples[0]?.outSeconds).toBe(1.5);
  });

  it('reads out_time_ms as microseconds too (the FFmpeg quirk) when out_time_us is missing', () => {
    const [s] = feed(block({ out_time_us: '', out_time_ms: '2500000', out_time: '' }), []);
    expect(s?.outSeconds, 'out_time_ms=2500000 means 2.5 s, not 2500 s').toBe(2.5);
  });

  it('falls back to the HH:MM:SS.micro out_time when neither microsecond field is present', () => {
    const [s] = feed(block({ out_time_us: '', out_time_ms: '', out_time: '01:02:03.500000' }), []);
    expect(s?.outSeconds).toBeCloseTo(3723.5, 6);
  });

  it('prefers out_time_us over out_time_ms and out_time when they disagree', () => {
    const [s] = feed(block({ out_time_us: '3000000', out_time_ms: '9000000', out_time: '00:00:07.000000' }), []);
    expect(s?.outSeconds).toBe(3);
  });

  it('treats N/A times at the very start of a run as zero seconds, never negative', () => {
    const [na] = feed(block({ out_time_us: 'N/A', out_time_ms: 'N/A', out_time: 'N/A', speed: 'N/A', fps: '0.00' }), []);
    expect(na?.outSeconds).toBe(0);
    const [neg] = feed(block({ out_time_us: '-23220', out_time_ms: '-23220', out_time: '-00:00:00.023220' }), []);
    expect(neg?.outSeconds, 'a negative start time is clamped').toBe(0);
  });

  it.each([
    ['2.5x', 2.5],
    ['92.6x', 92.6],
    [' 1.5x', 1.5],
    ['0.5x', 0.5],
    ['N/A', undefined],
  ])('reads speed=%s as %s', (raw, want) => {
    const [s] = feed(block({ speed: raw }), []);
    expect(s?.speed).toBe(want);
  });

  it('marks the sample of a progress=end block as the end', () => {
    const [s] = feed(block({ out_time_us: '10000000' }, 'end'), []);
    expect(s?.end).toBe(true);
    expect(s?.outSeconds).toBe(10);
  });

  it('starts every block fresh: a key missing from the second block is not carried over', () => {
    const text = block({ frame: '10' }) + block({ frame: '' });
    const samples = feed(text, []);
    expect(samples[0]?.frame).toBe(10);
    expect(samples[1]?.frame, 'frame must not leak from the previous block').toBeUndefined();
  });

  it('ignores blank lines, Windows line endings and lines without a key', () => {
    const text = 'frame=5\r\n\r\n=oops\ngarbage\nout_time_us=2000000\r\nprogress=continue\r\n';
    const samples = feed(text, []);
    expect(samples).toHaveLength(1);
    expect(samples[0]).toMatchObject({ frame: 5, outSeconds: 2, end: false });
  });
});

describe('progressOf', () => {
  it.each([
    [0, 100, 0],
    [25, 100, 25],
    [50, 200, 25],
    [33.333, 100, 33.3],
    [99.95, 100, 99.9],
    [100, 100, 99.9],
    [150, 100, 99.9],
  ])('reports %s s of %s s as %s %% while FFmpeg has not ended', (out, expected, pct) => {
    expect(progressOf(sample({ outSeconds: out }), expected).percentage).toBe(pct);
  });

  it('reports 100 % only when FFmpeg says progress=end, however short the output was', () => {
    expect(progressOf(sample({ outSeconds: 3, end: true }), 100).percentage).toBe(100);
    expect(progressOf(sample({ outSeconds: 0, end: true }), 0).percentage).toBe(100);
  });

  it('reports 0 % and no ETA when the expected length is unknown', () => {
    const p = progressOf(sample({ outSeconds: 12, speed: 2 }), 0);
    expect(p.percentage).toBe(0);
    expect(p.etaSeconds).toBeUndefined();
  });

  it.each([
    ['2x with 60 s left', 40, 100, 2, 30],
    ['realtime with 10 s left', 50, 60, 1, 10],
    ['0.5x with 10 s left', 90, 100, 0.5, 20],
    ['past the expected end', 120, 100, 3, 0],
  ])('estimates the ETA from speed: %s', (_name, out, expected, speed, eta) => {
    expect(progressOf(sample({ outSeconds: out, speed }), expected).etaSeconds).toBe(eta);
  });

  it('gives no ETA without a speed (N/A or 0) and an ETA of 0 at the end', () => {
    expect(progressOf(sample({ outSeconds: 10, speed: undefined }), 100).etaSeconds).toBeUndefined();
    expect(progressOf(sample({ outSeconds: 10, speed: 0 }), 100).etaSeconds).toBeUndefined();
    expect(progressOf(sample({ outSeconds: 10, speed: 2, end: true }), 100).etaSeconds).toBe(0);
  });

  it('passes fps and speed through unchanged', () => {
    expect(progressOf(sample({ outSeconds: 1, fps: 49.87, speed: 1.99 }), 10)).toMatchObject({ fps: 49.87, speed: 1.99 });
  });

  describe('against the expected length a plan gives (trim-aware)', () => {
    const info: MediaInfo = {
      formatName: 'mov,mp4,m4a,3gp,3g2,mj2', durationSeconds: 120, startSeconds: 0, sizeBytes: 30_000_000, bitrate: 2_000_000, isImage: false,
      video: { codec: 'h264', width: 1280, height: 720, fps: 25, pixelFormat: 'yuv420p', frames: 3000 },
      audio: { codec: 'aac', channels: 2, sampleRate: 48000 },
    };
    const plan = (operations: Operation[]) => {
      const spec: MediaJobSpec = {
        type: 'convert', input: { path: '/storage/in/video.mp4' }, output: { path: '/storage/out/video.mp4', format: 'mp4' },
        operations, options: { priority: 'normal', hardwareAcceleration: 'auto' },
      };
      const ctx: PlanContext = {
        spec, input: '/data/in/video.mp4', inputInfo: info, staging: '/data/out/.video.mp4.tmp', scratch: '/tmp/scratch',
        ffmpeg: 'ffmpeg', encoders: new Set(['libx264', 'aac']), statsPeriod: true, acceleration: { decode: 'cpu', encode: 'cpu', reason: 'test' },
      };
      const step = planConvert(ctx).steps[0];
      if (!step) throw new Error('planConvert returned no step');
      return step;
    };

    it('counts 15 s written as 50 % of a 30 s trim of a 120 s input', () => {
      const step = plan([{ type: 'trim', start: 10, duration: 30 }]);
      expect(step.expectedSeconds, 'the step should expect the trimmed length').toBe(30);
      expect(progressOf(sample({ outSeconds: 15, speed: 3 }), step.expectedSeconds)).toMatchObject({ percentage: 50, etaSeconds: 5 });
    });

    it('counts against the trimmed and sped-up length', () => {
      const step = plan([{ type: 'trim', start: 20, end: 80 }, { type: 'speed', factor: 2 }]);
      expect(step.expectedSeconds, '60 s at 2x is 30 s of output').toBe(30);
      expect(progressOf(sample({ outSeconds: 27 }), step.expectedSeconds).percentage).toBe(90);
    });
  });
});
