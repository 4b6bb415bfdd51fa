// Every example of the reference API, as written (paths under the storage root), over a real
// port against real FFmpeg; outputs checked with ffprobe. Plus the reference's Python client.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffprobe, makeLogo, makeSource, videoStream } from '../support/media.ts';
import { startGateway, waitForJob, type TestGateway } from '../support/gateway.ts';

let gw: TestGateway;
const execFileAsync = promisify(execFile);

beforeAll(async () => {
  gw = await startGateway();
  const h = (p: string) => gw.storage.host(p);
  makeSource(h('/storage/input/video.avi'), { seconds: 2, args: ['-c:v', 'mpeg4', '-q:v', '5'] });
  makeSource(h('/storage/input/video.mp4'), { seconds: 2 });
  makeSource(h('/storage/input/video.mov'), { seconds: 2 });
  makeSource(h('/storage/video.mp4'), { seconds: 4 });
  makeSource(h('/storage/video1.mp4'), { seconds: 1 });
  makeSource(h('/storage/video2.avi'), { seconds: 1, args: ['-c:v', 'mpeg4'] });
  makeSource(h('/storage/original.mp4'), { seconds: 2, args: ['-c:v', 'libx264', '-crf', '12', '-preset', 'ultrafast'] });
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', h('/storage/original.mp4'), '-c:v', 'libx264', '-crf', '35', '-preset', 'ultrafast', '-an', h('/storage/processed.mp4')]);
  makeLogo(h('/storage/logo.png'));
  makeLogo(h('/storage/assets/logo.png'));
});
afterAll(async () => gw.stop());

async function submit(path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await gw.api(path, { method: 'POST', json: body });
  const json = (await res.json()) as { job?: { id: string; links: Record<string, string> }; error?: unknown };
  if (res.status !== 201 || !json.job) throw new Error(`${path} answered ${res.status}: ${JSON.stringify(json)}`);
  expect(json.job.links.self).toBe(`/api/v1/jobs/${json.job.id}`);
  const job = await waitForJob(gw, json.job.id);
  if (job['status'] !== 'completed') throw new Error(`job ${String(job['status'])}: ${JSON.stringify(job['error'])}`);
  return job;
}

describe('the reference examples', () => {
  it('converts an AVI to MP4 with the output shorthand', async () => {
    const job = await submit('/api/v1/convert', { input: '/storage/input/video.avi', output: 'mp4' });
    expect(job['output']).toBe('/storage/input/video.mp4');
    const p = ffprobe(gw.storage.host(String(job['output'])));
    expect(videoStream(p).codec_name).toBe('h264');
  });

  it('runs the full convert example with trim, watermark and options (local input)', async () => {
    const job = await submit('/api/v1/convert', {
      input: { path: '/storage/input/video.mov', credentials: 'presigned' },
      output: {
        path: '/storage/output/final.mp4',
        format: 'mp4',
        video: { codec: 'h264', preset: 'medium', crf: 23, resolution: '1920x1080', fps: 30 },
        audio: { codec: 'aac', bitrate: '192k', channels: 2, normalize: true },
      },
      operations: [
        { type: 'trim', start: 0.5, duration: 1 },
        { type: 'watermark', image: '/storage/assets/logo.png', position: 'bottom-right', opacity: 0.8 },
      ],
      options: { priority: 'high', hardware_acceleration: 'auto' },
    });
    const p = ffprobe(gw.storage.host('/storage/output/final.mp4'));
    expect([videoStream(p).width, videoStream(p).height, videoStream(p).avg_frame_rate]).toEqual([1920, 1080, '30/1']);
    expect(Math.abs(p.duration - 1)).toBeLessThan(0.1);
    expect(job['priority']).toBe('high');
    expect((job['metrics'] as { loudnessOutput?: { integrated: number } }).loudnessOutput?.integrated).toBeCloseTo(-23, 0);
  });

  it('resizes to 1280x720', async () => {
    await submit('/api/v1/convert', { input: '/storage/input/video.mp4', output: { path: '/storage/output/video_720p.mp4', video: { resolution: '1280x720' } } });
    const v = videoStream(ffprobe(gw.storage.host('/storage/output/video_720p.mp4')));
    expect([v.width, v.height]).toEqual([1280, 720]);
  });

  it('extracts audio to MP3', async () => {
    await submit('/api/v1/convert', { input: '/storage/input/video.mp4', output: { path: '/storage/output/audio.mp3', format: 'mp3' } });
    const p = ffprobe(gw.storage.host('/storage/output/audio.mp3'));
    expect(p.streams.map((s) => s.codec_name)).toEqual(['mp3']);
  });

  it('makes an HLS ladder from named resolutions', async () => {
    await submit('/api/v1/stream', {
      input: '/storage/input/video.mp4',
      output: '/storage/output/stream',
      type: 'hls',
      variants: [{ resolution: '720p', bitrate: '2M' }, { resolution: '480p', bitrate: '1M' }],
    });
    // The 320x240 source is not upscaled: both renditions are larger, so the smallest is kept at source size.
    const dir = gw.storage.host('/storage/output/stream');
    expect(readFileSync(join(dir, 'master.m3u8'), 'utf8')).toMatch(/#EXT-X-STREAM-INF/);
  });

  it('makes an HLS ladder with WxH resolutions, names and segment_duration', async () => {
    makeSource(gw.storage.host('/storage/video-hd.mp4'), { seconds: 3, width: 1920, height: 1080, args: ['-c:v', 'libx264', '-preset', 'ultrafast'] });
    await submit('/api/v1/stream', {
      input: '/storage/video-hd.mp4',
      output: '/storage/streams/',
      type: 'hls',
      variants: [
        { resolution: '1920x1080', bitrate: '5000k', name: '1080p' },
        { resolution: '1280x720', bitrate: '2500k', name: '720p' },
        { resolution: '854x480', bitrate: '1000k', name: '480p' },
      ],
      segment_duration: 6,
    });
    const dir = gw.storage.host('/storage/streams');
    expect(readdirSync(dir).sort()).toEqual(['1080p', '480p', '720p', 'audio', 'master.m3u8']);
    expect(videoStream(ffprobe(join(dir, '720p', 'index.m3u8'))).height).toBe(720);
  });

  it('analyzes quality with VMAF, PSNR and SSIM', async () => {
    const job = await submit('/api/v1/analyze', { input: '/storage/processed.mp4', reference: '/storage/original.mp4', metrics: ['vmaf', 'psnr', 'ssim'] });
    const m = job['metrics'] as Record<string, { mean: number }>;
    expect(m['vmaf']?.mean).toBeGreaterThan(10);
    expect(m['psnr']?.mean).toBeGreaterThan(20);
    expect(m['ssim']?.mean).toBeGreaterThan(0.5);
    expect((job['progress_details'] as { quality?: Record<string, number> }).quality?.['vmaf']).toBe(m['vmaf']?.mean);
  });

  it('estimates from a probe of the input without creating a job', async () => {
    const before = ((await (await gw.api('/api/v1/jobs?per_page=1')).json()) as { total: number }).total;
    const res = await gw.api('/api/v1/estimate', { method: 'POST', json: { input: '/storage/input/video.mp4', output: 'mp4', operations: [{ type: 'resize', resolution: '4k' }] } });
    expect(res.status).toBe(200);
    const e = (await res.json()) as { estimated: { duration_seconds: number; output_size_bytes: number; output_duration_seconds: number }; resources: { cpu_cores: number }; input: { duration_seconds: number } };
    expect(e.input.duration_seconds).toBeCloseTo(2, 0);
    expect(e.estimated.output_duration_seconds).toBeCloseTo(2, 0);
    expect(e.estimated.output_size_bytes).toBeGreaterThan(0);
    expect(e.resources.cpu_cores).toBeGreaterThanOrEqual(8);
    const after = ((await (await gw.api('/api/v1/jobs?per_page=1')).json()) as { total: number }).total;
    expect(after).toBe(before);
  });

  it('runs a batch and reports aggregate progress', async () => {
    const res = await gw.api('/api/v1/batch', {
      method: 'POST',
      json: {
        jobs: [
          { input: '/storage/video1.mp4', output: '/storage/output1.mp4', operations: [{ type: 'transcode', params: { video_codec: 'h264' } }] },
          { input: '/storage/video2.avi', output: '/storage/output2.webm', operations: [{ type: 'transcode', params: { video_codec: 'vp9' } }] },
        ],
        batch_name: 'Daily Processing',
        validate_files: true,
      },
    });
    expect(res.status).toBe(201);
    const { batch } = (await res.json()) as { batch: { id: string; name: string; jobs: { id: string }[] } };
    expect(batch.name).toBe('Daily Processing');
    for (const j of batch.jobs) expect((await waitForJob(gw, j.id))['status']).toBe('completed');
    const agg = (await (await gw.api(`/api/v1/batch/${batch.id}`)).json()) as { batch: { status: string; progress: number; counts: Record<string, number> } };
    expect(agg.batch).toMatchObject({ status: 'completed', progress: 100 });
    expect(agg.batch.counts['completed']).toBe(2);
    expect(videoStream(ffprobe(gw.storage.host('/storage/output2.webm'))).codec_name).toBe('vp9');
  });

  it('makes a single high-quality thumbnail', async () => {
    await submit('/api/v1/convert', { input: '/storage/video.mp4', output: '/storage/thumb.jpg', operations: [{ type: 'thumbnail', params: { timestamp: 3, width: 1920, height: 1080, quality: 'high' } }] });
    const v = videoStream(ffprobe(gw.storage.host('/storage/thumb.jpg')));
    expect([v.codec_name, v.width, v.height]).toEqual(['mjpeg', 1920, 1080]);
  });

  it('makes a thumbnail grid into a folder', async () => {
    await submit('/api/v1/convert', { input: '/storage/video.mp4', output: '/storage/thumbnails/', operations: [{ type: 'thumbnail_grid', params: { rows: 3, cols: 4, width: 1280, height: 720 } }] });
    const v = videoStream(ffprobe(gw.storage.host('/storage/thumbnails/sprite.jpg')));
    expect([v.width, v.height]).toEqual([1280, 720]);
    expect(existsSync(gw.storage.host('/storage/thumbnails/sprite.vtt'))).toBe(true);
  });

  it('places a watermark given as params', async () => {
    await submit('/api/v1/convert', { input: '/storage/video.mp4', output: '/storage/watermarked.mp4', operations: [{ type: 'watermark', params: { watermark_path: '/storage/logo.png', position: 'bottom-right', opacity: 0.8, scale: 0.15 } }] });
    expect(videoStream(ffprobe(gw.storage.host('/storage/watermarked.mp4'))).codec_name).toBe('h264');
  });

  it('accepts the key as a Bearer token', async () => {
    const res = await fetch(`${gw.url}/api/v1/jobs`, { headers: { authorization: `Bearer ${gw.keys.client}` } });
    expect(res.status).toBe(200);
  });
});

describe("the reference's Python client", () => {
  it('works unchanged against kubeff', async () => {
    // The class exactly as the reference prints it; only the usage lines point at this server.
    const script = `
import requests
import time
class FFmpegAPIClient:
    def __init__(self, api_key, base_url="http://localhost:8000"):
        self.api_key = api_key
        self.base_url = base_url
        self.headers = {"X-API-Key": api_key, "Content-Type": "application/json"}
    def convert(self, input_path, output_format):
        response = requests.post(
            f"{self.base_url}/api/v1/convert",
            json={"input": input_path, "output": output_format},
            headers=self.headers
        )
        return response.json()
    def get_job_status(self, job_id):
        response = requests.get(
            f"{self.base_url}/api/v1/jobs/{job_id}",
            headers=self.headers
        )
        return response.json()
# Usage
import sys
client = FFmpegAPIClient(api_key=sys.argv[1], base_url=sys.argv[2])
job = client.convert("/storage/input/video.avi", "mkv")
print(f"Job ID: {job['job']['id']}")
for _ in range(600):
    status = client.get_job_status(job['job']['id'])
    if status["status"] in ("completed", "failed", "cancelled"):
        break
    time.sleep(0.1)
print("STATUS", status["status"], status["output"])
`;
    const file = join(gw.dataDir, 'client.py');
    writeFileSync(file, script);
    // Asynchronously: the server runs in this process and must keep answering.
    const { stdout: out } = await execFileAsync('python3', [file, gw.keys.client, gw.url], { encoding: 'utf8', timeout: 90_000 });
    expect(out).toMatch(/^Job ID: [0-9a-f-]{36}$/m);
    expect(out).toMatch(/^STATUS completed \/storage\/input\/video\.mkv$/m);
  });
});
