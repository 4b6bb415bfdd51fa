// Convert jobs through the real worker and real FFmpeg, outputs checked with ffprobe.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audioStream, ffmpegBin, ffprobe, makeLogo, makeSource, makeStorage, videoStream, type Probed, type StorageRoot } from '../support/media.ts';
import { expectCompleted, runRequest } from '../support/worker.ts';

let storage: StorageRoot;
const src = '/storage/input/video.mp4'; // 320x240, 25 fps, 2 s, stereo 48 kHz
const frame = 1 / 25;

beforeAll(() => {
  storage = makeStorage();
  makeSource(storage.host(src));
  makeLogo(storage.host('/storage/assets/logo.png'));
});
afterAll(() => storage.remove());

async function convert(output: unknown, operations: unknown[] = []): Promise<{ probe: Probed; path: string; result: Awaited<ReturnType<typeof runRequest>>['result'] }> {
  const r = expectCompleted(await runRequest(storage, 'convert', { input: src, output, operations }));
  const out = r.result.outputs[0];
  if (!out) throw new Error('completed job listed no output');
  return { probe: ffprobe(storage.host(out.path)), path: out.path, result: r.result };
}

/** Average luma of one frame at a time, via FFmpeg's signalstats. */
function lumaAt(hostPath: string, seconds: number): number {
  const out = execFileSync(ffmpegBin, ['-v', 'error', '-ss', String(seconds), '-i', hostPath, '-frames:v', '1', '-vf', 'signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-', '-f', 'null', '-'], { encoding: 'utf8' });
  const m = /YAVG=([\d.]+)/.exec(out);
  if (!m) throw new Error(`no YAVG in ${out}`);
  return Number(m[1]);
}

describe('convert: video codecs and containers', () => {
  it.each([
    { name: 'h264 in mp4', output: { path: '/storage/out/h264.mp4', video: { codec: 'h264', preset: 'veryfast', crf: 28 } }, format: 'mp4', v: 'h264', a: 'aac' },
    { name: 'h265 in mkv', output: { path: '/storage/out/h265.mkv', video: { codec: 'h265', preset: 'ultrafast' } }, format: 'matroska', v: 'hevc', a: 'aac' },
    { name: 'h265 in mp4 tagged hvc1', output: { path: '/storage/out/h265.mp4', video: { codec: 'h265', preset: 'ultrafast' } }, format: 'mp4', v: 'hevc', a: 'aac' },
    { name: 'vp9 with opus in webm', output: { path: '/storage/out/vp9.webm', video: { codec: 'vp9', preset: 'ultrafast' } }, format: 'webm', v: 'vp9', a: 'opus' },
    { name: 'av1 in mkv', output: { path: '/storage/out/av1.mkv', video: { codec: 'av1', preset: 'ultrafast' } }, format: 'matroska', v: 'av1', a: 'aac' },
    { name: 'av1 in mp4', output: { path: '/storage/out/av1.mp4', video: { codec: 'av1', preset: 'ultrafast' } }, format: 'mp4', v: 'av1', a: 'aac' },
    { name: 'h264 with aac in mov', output: { path: '/storage/out/movie.mov' }, format: 'mov', v: 'h264', a: 'aac' },
    { name: 'h264 with aac in ts', output: { path: '/storage/out/stream.ts' }, format: 'mpegts', v: 'h264', a: 'aac' },
    { name: 'stream copy into mkv', output: { path: '/storage/out/copy.mkv', video: { codec: 'copy' }, audio: { codec: 'copy' } }, format: 'matroska', v: 'h264', a: 'aac' },
    { name: 'the "mp4" shorthand beside the input', output: 'mkv', format: 'matroska', v: 'h264', a: 'aac' },
  ])('writes $name with the requested codecs and the full duration', async ({ output, format, v, a }) => {
    const { probe } = await convert(output);
    expect(probe.format, 'container').toContain(format.split(',')[0]);
    expect(videoStream(probe).codec_name, 'video codec').toBe(v);
    expect(audioStream(probe).codec_name, 'audio codec').toBe(a);
    expect(probe.duration, 'duration').toBeGreaterThan(2 - 2 * frame);
    expect(probe.duration, 'duration').toBeLessThan(2 + 0.1);
  });

  it('tags HEVC in MP4 as hvc1 so Apple players accept it', async () => {
    const { path } = await convert({ path: '/storage/out/tag.mp4', video: { codec: 'h265', preset: 'ultrafast' } });
    const tag = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_tag_string', '-of', 'csv=p=0', storage.host(path)], { encoding: 'utf8' }).trim();
    expect(tag).toBe('hvc1');
  });

  it('writes an animated GIF with no audio at a reduced frame rate', async () => {
    const { probe } = await convert({ path: '/storage/out/anim.gif', video: { width: 160 } });
    expect(probe.streams).toHaveLength(1);
    expect(videoStream(probe).codec_name).toBe('gif');
    expect(videoStream(probe).width).toBe(160);
    expect(videoStream(probe).height).toBe(120);
  });
});

describe('convert: video settings', () => {
  it.each([
    { name: 'a WxH resolution', video: { resolution: '160x120' }, check: (p: Probed) => expect([videoStream(p).width, videoStream(p).height]).toEqual([160, 120]) },
    { name: 'a named resolution keeping the aspect ratio', video: { resolution: '480p' }, check: (p: Probed) => expect([videoStream(p).width, videoStream(p).height]).toEqual([640, 480]) },
    { name: 'a frame rate', video: { fps: 10 }, check: (p: Probed) => expect(videoStream(p).avg_frame_rate).toBe('10/1') },
    { name: 'a pixel format with a matching profile', video: { pixel_format: 'yuv444p', profile: 'high444' }, check: (p: Probed) => expect(videoStream(p).pix_fmt).toBe('yuv444p') },
    { name: 'the baseline profile', video: { profile: 'baseline' }, check: (p: Probed) => expect(videoStream(p).profile).toMatch(/Baseline/) },
    { name: 'a 10-bit HEVC profile', video: { codec: 'h265', profile: 'main10', preset: 'ultrafast' }, check: (p: Probed) => expect(videoStream(p).pix_fmt).toBe('yuv420p10le') },
  ])('applies $name', async ({ video, check }) => {
    const { probe } = await convert({ path: `/storage/out/settings-${Math.random().toString(36).slice(2)}.mp4`, video: { preset: 'ultrafast', ...video } });
    check(probe);
  });

  it('follows a target bitrate instead of CRF', async () => {
    const low = await convert({ path: '/storage/out/b-low.mp4', video: { bitrate: '100k', preset: 'ultrafast' }, audio: { bitrate: '32k' } });
    const high = await convert({ path: '/storage/out/b-high.mp4', video: { bitrate: '2M', preset: 'ultrafast' }, audio: { bitrate: '32k' } });
    const size = (r: typeof low) => r.result.outputs[0]?.sizeBytes ?? 0;
    expect(size(high)).toBeGreaterThan(size(low) * 4);
  });
});

describe('convert: audio', () => {
  it.each([
    { name: 'mp3', path: '/storage/out/audio.mp3', audio: { bitrate: '128k', channels: 1, sample_rate: 22050 }, codec: 'mp3', format: 'mp3', channels: 1, rate: '22050' },
    { name: 'm4a', path: '/storage/out/audio.m4a', audio: {}, codec: 'aac', format: 'mov,mp4', channels: 2, rate: '48000' },
    { name: 'wav', path: '/storage/out/audio.wav', audio: {}, codec: 'pcm_s16le', format: 'wav', channels: 2, rate: '48000' },
    { name: 'flac', path: '/storage/out/audio.flac', audio: { sample_rate: 44100 }, codec: 'flac', format: 'flac', channels: 2, rate: '44100' },
    { name: 'ogg opus', path: '/storage/out/audio.ogg', audio: { codec: 'opus', channels: 1 }, codec: 'opus', format: 'ogg', channels: 1, rate: '48000' },
  ])('extracts audio only as $name', async ({ path, audio, codec, format, channels, rate }) => {
    const { probe } = await convert({ path, audio });
    expect(probe.streams.map((s) => s.codec_type), 'only an audio stream').toEqual(['audio']);
    const a = audioStream(probe);
    expect(a.codec_name).toBe(codec);
    expect(probe.format).toContain(format.split(',')[0]);
    expect(a.channels).toBe(channels);
    expect(a.sample_rate).toBe(rate);
    expect(probe.duration).toBeGreaterThan(1.9);
  });

  it('normalizes loudness to EBU R128 in two passes and reports both measurements', async () => {
    const { result, probe } = await convert({ path: '/storage/out/loud.mp4', audio: { normalize: true } });
    const m = result.metrics;
    expect(m?.loudnessInput?.integrated, 'measured input loudness').toBeTypeOf('number');
    expect(m?.loudnessOutput?.integrated, 'output loudness').toBeGreaterThan(-24);
    expect(m?.loudnessOutput?.integrated, 'output loudness').toBeLessThan(-22);
    expect(audioStream(probe).sample_rate, 'resampled back from 192 kHz').toBe('48000');
  });
});

describe('convert: operations', () => {
  it.each([
    { name: 'trim by start and duration', ops: [{ type: 'trim', start: 0.5, duration: 1 }], duration: 1 },
    { name: 'trim by start and end', ops: [{ type: 'trim', params: { start: '00:00:00.5', end: 1.7 } }], duration: 1.2 },
    { name: 'speed 2x', ops: [{ type: 'speed', factor: 2 }], duration: 1 },
    { name: 'speed 0.5x', ops: [{ type: 'speed', factor: 0.5 }], duration: 4 },
    { name: 'trim then speed', ops: [{ type: 'trim', start: 0, duration: 1 }, { type: 'speed', factor: 4 }], duration: 0.25 },
  ])('$name gives the expected duration', async ({ ops, duration }) => {
    const { probe } = await convert({ path: `/storage/out/t-${Math.random().toString(36).slice(2)}.mp4`, video: { preset: 'ultrafast' } }, ops);
    // Within a frame and an audio frame: what output verification allows too.
    expect(Math.abs(probe.duration - duration), `duration ${probe.duration} vs ${duration}`).toBeLessThanOrEqual(frame + 0.025);
  });

  it.each([
    { name: 'resize by resolution', ops: [{ type: 'resize', resolution: '160x120' }], size: [160, 120] },
    { name: 'scale by width only', ops: [{ type: 'scale', params: { width: 200 } }], size: [200, 150] },
    { name: 'crop', ops: [{ type: 'crop', width: 100, height: 80, x: 10, y: 20 }], size: [100, 80] },
    { name: 'rotate 90', ops: [{ type: 'rotate', degrees: 90 }], size: [240, 320] },
    { name: 'rotate -90', ops: [{ type: 'rotate', degrees: -90 }], size: [240, 320] },
    { name: 'rotate 180', ops: [{ type: 'rotate', degrees: 180 }], size: [320, 240] },
    { name: 'crop then scale', ops: [{ type: 'crop', width: 160, height: 160, x: 0, y: 0 }, { type: 'scale', width: 80 }], size: [80, 80] },
    { name: 'rotate then crop', ops: [{ type: 'rotate', degrees: 90 }, { type: 'crop', width: 200, height: 300, x: 0, y: 0 }], size: [200, 300] },
    { name: 'flip', ops: [{ type: 'flip', direction: 'horizontal' }, { type: 'flip', direction: 'vertical' }], size: [320, 240] },
    { name: 'filters', ops: [{ type: 'filter', params: { deinterlace: true, denoise: 'strong', sharpen: 1.5, blur: 1, saturation: 1.2, gamma: 1.1 } }], size: [320, 240] },
  ])('$name gives a frame of the expected size', async ({ ops, size }) => {
    const { probe } = await convert({ path: `/storage/out/g-${Math.random().toString(36).slice(2)}.mp4`, video: { preset: 'ultrafast' } }, ops);
    expect([videoStream(probe).width, videoStream(probe).height]).toEqual(size);
  });

  it('changes the frame rate with an fps operation', async () => {
    const { probe } = await convert({ path: '/storage/out/fps.mp4', video: { preset: 'ultrafast' } }, [{ type: 'fps', fps: 12 }]);
    expect(videoStream(probe).avg_frame_rate).toBe('12/1');
  });

  it('fades in from black and out to black at the trimmed end', async () => {
    const { path } = await convert({ path: '/storage/out/fade.mp4', video: { preset: 'ultrafast' } }, [
      { type: 'trim', start: 0.2, duration: 1.6 },
      { type: 'fade', direction: 'in', duration: 0.5 },
      { type: 'fade_out', duration: 0.5 },
    ]);
    const host = storage.host(path);
    expect(lumaAt(host, 0), 'first frame is black').toBeLessThan(20);
    expect(lumaAt(host, 0.8), 'middle is not faded').toBeGreaterThan(40);
    expect(lumaAt(host, 1.55), 'last frame is nearly black').toBeLessThan(30);
  });

  it('raises brightness with a numeric brightness filter', async () => {
    const plain = await convert({ path: '/storage/out/plain.mp4', video: { preset: 'ultrafast' } });
    const bright = await convert({ path: '/storage/out/bright.mp4', video: { preset: 'ultrafast' } }, [{ type: 'filter', params: { brightness: 0.3 } }]);
    expect(lumaAt(storage.host(bright.path), 1)).toBeGreaterThan(lumaAt(storage.host(plain.path), 1) + 30);
  });

  it.each(['top-left', 'top', 'top-right', 'left', 'center', 'right', 'bottom-left', 'bottom', 'bottom-right'])(
    'places a watermark at %s',
    async (position) => {
      const { path, probe } = await convert({ path: `/storage/out/wm-${position}.mp4`, video: { preset: 'ultrafast' } }, [
        { type: 'watermark', params: { watermark_path: '/storage/assets/logo.png', position, opacity: 1, scale: 0.25, margin: 0 } },
      ]);
      expect([videoStream(probe).width, videoStream(probe).height]).toEqual([320, 240]);
      // The logo is 80x40 at scale 0.25 of 320: its box must be brighter than the same box without it.
      const col = position.includes('left') ? 0 : position.includes('right') ? 240 : 120;
      const row = position.startsWith('top') ? 0 : position.startsWith('bottom') ? 200 : 100;
      const crop = `crop=80:40:${col}:${row}`;
      const luma = (p: string) => {
        const out = execFileSync(ffmpegBin, ['-v', 'error', '-ss', '1', '-i', p, '-frames:v', '1', '-vf', `${crop},signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-`, '-f', 'null', '-'], { encoding: 'utf8' });
        return Number(/YAVG=([\d.]+)/.exec(out)?.[1]);
      };
      expect(luma(storage.host(path))).toBeGreaterThan(luma(storage.host(src)) + 20);
    },
  );

  it('publishes nothing but the finished output in the output folder', async () => {
    const { path } = await convert({ path: '/storage/clean/only.mp4', video: { preset: 'ultrafast' } });
    expect(readdirSync(dirname(storage.host(path)))).toEqual(['only.mp4']);
  });

  it('emits progress that rises to 100 with stage, fps and speed', async () => {
    const r = expectCompleted(await runRequest(storage, 'convert', { input: src, output: { path: '/storage/out/progress.mp4', video: { preset: 'ultrafast' } } }));
    const progress = r.events.filter((e) => e.type === 'progress') as { percentage: number; stage: string }[];
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)?.percentage).toBe(100);
    const pcts = progress.map((p) => p.percentage);
    expect(pcts, 'monotonic').toEqual([...pcts].sort((a, b) => a - b));
    expect(r.events.some((e) => e.type === 'log'), 'FFmpeg log lines are forwarded').toBe(true);
  });

  it('describes each output with path, size, duration, codecs, resolution and bitrate', async () => {
    const { result } = await convert({ path: '/storage/out/described.mp4', video: { preset: 'ultrafast' } });
    expect(result.outputs[0]).toMatchObject({ path: '/storage/out/described.mp4', role: 'media', videoCodec: 'h264', audioCodec: 'aac', width: 320, height: 240 });
    expect(result.outputs[0]?.sizeBytes).toBeGreaterThan(1000);
    expect(result.outputs[0]?.bitrate).toBeGreaterThan(1000);
    expect(result.acceleration).toMatchObject({ decode: 'cpu', encode: 'cpu' });
  });
});
