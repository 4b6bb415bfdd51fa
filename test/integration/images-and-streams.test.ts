// Thumbnails, contact sheets and HLS/DASH ladders through the real worker and real FFmpeg.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffprobe, makeSource, makeStorage, videoStream, type StorageRoot } from '../support/media.ts';
import { expectCompleted, runRequest } from '../support/worker.ts';

let storage: StorageRoot;
const src = '/storage/input/video.mp4'; // 320x240, 25 fps, 4 s
const seconds = 4;

beforeAll(() => {
  storage = makeStorage();
  makeSource(storage.host(src), { seconds });
});
afterAll(() => storage.remove());

describe('thumbnails', () => {
  it.each([
    { name: 'a JPEG at a timestamp with width and height', output: '/storage/thumbs/one.jpg', params: { timestamp: 1, width: 160, height: 120, quality: 'high' }, codec: 'mjpeg', size: [160, 120] },
    { name: 'a PNG keeping the aspect ratio from the width', output: '/storage/thumbs/one.png', params: { timestamp: 2, width: 100 }, codec: 'png', size: [100, 76] },
    { name: 'a WebP at the source size', output: '/storage/thumbs/one.webp', params: { time: '00:00:01.5', quality: 'low' }, codec: 'webp', size: [320, 240] },
  ])('writes $name', async ({ output, params, codec, size }) => {
    const r = expectCompleted(await runRequest(storage, 'convert', { input: src, output, operations: [{ type: 'thumbnail', params }] }));
    expect(r.result.outputs).toHaveLength(1);
    const probe = ffprobe(storage.host(output));
    expect(videoStream(probe).codec_name).toBe(codec);
    expect([videoStream(probe).width, videoStream(probe).height]).toEqual(size);
    expect(r.result.outputs[0]).toMatchObject({ path: output, role: 'image', width: size[0], height: size[1] });
  });

  it('takes the frame at the requested time', async () => {
    // testsrc2 draws a moving pattern: thumbnails at different times differ, at the same time match.
    const at = async (t: number, name: string) => {
      await runRequest(storage, 'convert', { input: src, output: `/storage/thumbs/${name}.png`, operations: [{ type: 'thumbnail', timestamp: t }] });
      return readFileSync(storage.host(`/storage/thumbs/${name}.png`));
    };
    const a = await at(1, 'a');
    const b = await at(1, 'b');
    const c = await at(3, 'c');
    expect(a.equals(b), 'same timestamp, same image').toBe(true);
    expect(a.equals(c), 'other timestamp, other image').toBe(false);
  });

  it.each([
    { name: 'a count', params: { count: 5, width: 80 }, files: 5 },
    { name: 'an interval', params: { interval: 1, width: 80 }, files: 4 },
  ])('writes a numbered series from $name into a folder', async ({ params, files }) => {
    const dir = `/storage/series-${files}/`;
    const r = expectCompleted(await runRequest(storage, 'convert', { input: src, output: dir, operations: [{ type: 'thumbnail', params }] }));
    const names = readdirSync(storage.host(dir)).sort();
    expect(names).toEqual(Array.from({ length: files }, (_, i) => `thumb_${String(i + 1).padStart(4, '0')}.jpg`));
    expect(r.result.outputs.map((o) => o.path)).toEqual(names.map((n) => `${dir}${n}`));
    expect(videoStream(ffprobe(join(storage.host(dir), names[0] as string))).width).toBe(80);
  });

  it('writes a contact sheet and a WebVTT sprite map whose cues cover the video', async () => {
    const dir = '/storage/thumbnails/';
    const r = expectCompleted(await runRequest(storage, 'convert', { input: src, output: dir, operations: [{ type: 'thumbnail_grid', params: { rows: 2, cols: 3, width: 480, height: 240 } }] }));
    const sheet = ffprobe(storage.host('/storage/thumbnails/sprite.jpg'));
    expect([videoStream(sheet).width, videoStream(sheet).height], 'sheet = 3x2 cells of 160x120').toEqual([480, 240]);
    const vtt = readFileSync(storage.host('/storage/thumbnails/sprite.vtt'), 'utf8');
    expect(vtt.startsWith('WEBVTT')).toBe(true);
    const cues = [...vtt.matchAll(/(\S+) --> (\S+)\nsprite\.jpg#xywh=(\d+),(\d+),(\d+),(\d+)/g)];
    expect(cues).toHaveLength(6);
    expect(cues[0]?.slice(1)).toEqual(['00:00:00.000', '00:00:00.667', '0', '0', '160', '120']);
    expect(cues[4]?.slice(3)).toEqual(['160', '120', '160', '120']);
    expect(cues[5]?.[2]).toBe('00:00:04.000');
    expect(r.result.outputs.map((o) => o.role)).toEqual(['image', 'sprite-map']);
  });
});

function playlistSegments(text: string): number[] {
  return [...text.matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]));
}

describe('HLS and DASH ladders', () => {
  it('writes an HLS master playlist, one playlist per rendition and one shared audio group', async () => {
    const out = '/storage/streams/hls';
    const r = expectCompleted(
      await runRequest(storage, 'stream', {
        input: src,
        output: `${out}/`,
        type: 'hls',
        variants: [
          { resolution: '320x240', bitrate: '400k', name: 'high' },
          { resolution: '180p', bitrate: '200k' },
        ],
        segment_duration: 1,
      }),
    );
    const dir = storage.host(out);
    const master = readFileSync(join(dir, 'master.m3u8'), 'utf8');
    const inf = [...master.matchAll(/#EXT-X-STREAM-INF:([^\n]+)\n(\S+)/g)];
    // FFmpeg also lists the audio rendition as an audio-only variant, a valid low-bandwidth fallback.
    expect(inf.map((m) => m[2]).sort()).toEqual(['180p/index.m3u8', 'audio/index.m3u8', 'high/index.m3u8']);
    expect(master).toMatch(/RESOLUTION=320x240/);
    expect(master).toMatch(/RESOLUTION=240x180/);
    expect(master, 'one audio rendition shared by both').toMatch(/#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="group_audio"/);
    for (const name of ['high', '180p']) {
      const pl = readFileSync(join(dir, name, 'index.m3u8'), 'utf8');
      expect(pl).toMatch(/#EXT-X-PLAYLIST-TYPE:VOD/);
      expect(pl).toMatch(/#EXT-X-ENDLIST/);
      const segs = playlistSegments(pl);
      expect(segs.length, `${name} segments`).toBe(4);
      for (const s of segs) expect(s, 'segment duration').toBeLessThanOrEqual(1.05);
      expect(segs.reduce((a, b) => a + b, 0)).toBeCloseTo(seconds, 1);
    }
    const hi = ffprobe(join(dir, 'high', 'segment_00000.ts'));
    expect(videoStream(hi).height).toBe(240);
    const lo = ffprobe(join(dir, '180p', 'segment_00001.ts'));
    expect([videoStream(lo).width, videoStream(lo).height]).toEqual([240, 180]);
    expect(r.result.outputs[0]).toMatchObject({ path: `${out}/master.m3u8`, role: 'playlist' });
    expect(r.result.outputs.slice(1).map((o) => [o.path, o.height, o.bitrate])).toEqual([
      [`${out}/high/index.m3u8`, 240, 400_000],
      [`${out}/180p/index.m3u8`, 180, 200_000],
    ]);
    expect(existsSync(storage.host('/storage/streams')) && readdirSync(storage.host('/storage/streams')), 'no staging folder left').toEqual(['hls']);
  });

  it('does not upscale: renditions larger than the source are skipped', async () => {
    const out = '/storage/streams/noup';
    const r = expectCompleted(
      await runRequest(storage, 'stream', { input: src, output: out, variants: [{ resolution: '1080p', bitrate: '5M' }, { resolution: '240p', bitrate: '300k' }], segment_duration: 2 }),
    );
    expect(readdirSync(storage.host(out)).sort()).toEqual(['240p', 'audio', 'master.m3u8']);
    expect(r.events.some((e) => e.type === 'log' && /skipped renditions larger than the source: 1080p/.test(e.line))).toBe(true);
  });

  it('writes a DASH manifest with one adaptation set for video renditions and one for audio', async () => {
    const out = '/storage/streams/dash';
    expectCompleted(
      await runRequest(storage, 'stream', { input: src, output: out, type: 'dash', variants: [{ resolution: '240p', bitrate: '400k' }, { resolution: '120p', bitrate: '150k' }], segment_duration: 2 }),
    );
    const mpd = readFileSync(join(storage.host(out), 'manifest.mpd'), 'utf8');
    expect([...mpd.matchAll(/<AdaptationSet/g)]).toHaveLength(2);
    expect([...mpd.matchAll(/<Representation [^>]*mimeType="video\/mp4"/g)]).toHaveLength(2);
    expect(mpd).toMatch(/height="240"/);
    expect(mpd).toMatch(/height="120"/);
    expect(mpd).toMatch(/mimeType="audio\/mp4"/);
    const files = readdirSync(storage.host(out));
    expect(files.filter((f) => f.startsWith('init-'))).toHaveLength(3);
    expect(files.filter((f) => f.startsWith('chunk-')).length).toBeGreaterThanOrEqual(6);
  });
});
