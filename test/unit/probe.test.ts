// ffprobe's JSON (-print_format json -show_format -show_streams) turned into MediaInfo.
import { describe, expect, it } from 'vitest';
import { parseProbe } from '../../worker-image/src/probe.ts';

interface RawStream { [key: string]: unknown }

// An MP4 written by FFmpeg 5.1 (libx264 at 29.97 fps + mono AAC), abridged from real output.
const h264Stream: RawStream = {
  index: 0, codec_name: 'h264', codec_long_name: 'H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10', profile: 'High', codec_type: 'video',
  codec_tag_string: 'avc1', width: 320, height: 240, coded_width: 320, coded_height: 240, has_b_frames: 2,
  sample_aspect_ratio: '1:1', display_aspect_ratio: '4:3', pix_fmt: 'yuv420p', level: 13, field_order: 'progressive',
  r_frame_rate: '30000/1001', avg_frame_rate: '30000/1001', time_base: '1/30000', start_pts: 0, start_time: '0.000000',
  duration_ts: 30030, duration: '1.001000', bit_rate: '308571', nb_frames: '30',
  disposition: { default: 1, dub: 0, attached_pic: 0, still_image: 0 },
  tags: { language: 'und', handler_name: 'VideoHandler' },
};
const aacStream: RawStream = {
  index: 1, codec_name: 'aac', profile: 'LC', codec_type: 'audio', sample_fmt: 'fltp', sample_rate: '44100', channels: 1,
  channel_layout: 'mono', r_frame_rate: '0/0', avg_frame_rate: '0/0', time_base: '1/44100', duration: '1.000000',
  bit_rate: '70280', nb_frames: '45', disposition: { default: 1, attached_pic: 0 },
};
const mp4Format = {
  filename: 'a.mp4', nb_streams: 2, format_name: 'mov,mp4,m4a,3gp,3g2,mj2', format_long_name: 'QuickTime / MOV',
  start_time: '0.000000', duration: '1.001000', size: '50101', bit_rate: '400407', probe_score: 100,
};

const probeJson = (streams: RawStream[], format: Record<string, unknown> | undefined = mp4Format) =>
  JSON.stringify(format === undefined ? { streams } : { streams, format });

describe('parseProbe', () => {
  it('reads the start time a container stamps its first frames with (MPEG-TS starts at 1.4 s)', () => {
    expect(parseProbe(probeJson([h264Stream], { format_name: 'mpegts', start_time: '1.400000', duration: '2.0' })).startSeconds).toBe(1.4);
  });

  it('reads format, duration, size, bitrate and both streams of a real MP4 probe', () => {
    const info = parseProbe(probeJson([h264Stream, aacStream]));
    expect(info).toEqual({
      formatName: 'mov,mp4,m4a,3gp,3g2,mj2',
      durationSeconds: 1.001,
      startSeconds: 0,
      sizeBytes: 50101,
      bitrate: 400407,
      isImage: false,
      video: { codec: 'h264', width: 320, height: 240, fps: 30000 / 1001, pixelFormat: 'yuv420p', frames: 30 },
      audio: { codec: 'aac', channels: 1, sampleRate: 44100 },
    });
  });

  it.each([
    ['30000/1001', '30000/1001', 29.97],
    ['25/1', '25/1', 25],
    ['0/0', '24000/1001', 23.976],
    ['0/0', '0/0', 0],
    ['60', '60', 60],
  ])('reads avg_frame_rate %s (r_frame_rate %s) as %s fps', (avg, r, fps) => {
    const info = parseProbe(probeJson([{ ...h264Stream, avg_frame_rate: avg, r_frame_rate: r }]));
    expect(info.video?.fps).toBeCloseTo(fps, 3);
  });

  it('ignores cover art (attached_pic) as the video stream of an MP3', () => {
    const cover = { index: 1, codec_name: 'mjpeg', codec_type: 'video', width: 600, height: 600, avg_frame_rate: '0/0', r_frame_rate: '90000/1', disposition: { attached_pic: 1 } };
    const mp3 = { index: 0, codec_name: 'mp3', codec_type: 'audio', sample_rate: '44100', channels: 2, duration: '180.2' };
    const info = parseProbe(probeJson([mp3, cover], { format_name: 'mp3', duration: '180.245', size: '2883920', bit_rate: '128000' }));
    expect(info.video, 'cover art is not a video stream').toBeUndefined();
    expect(info.audio).toEqual({ codec: 'mp3', channels: 2, sampleRate: 44100 });
    expect(info.isImage).toBe(false);
  });

  it.each(['png_pipe', 'jpeg_pipe', 'image2', 'webp_pipe'])('marks a still picture (%s) as an image', (formatName) => {
    const still = { index: 0, codec_name: 'png', codec_type: 'video', width: 64, height: 48, avg_frame_rate: '25/1', r_frame_rate: '25/1' };
    const info = parseProbe(probeJson([still], { format_name: formatName, size: '1234' }));
    expect(info.isImage).toBe(true);
    expect(info.video).toMatchObject({ width: 64, height: 48 });
    expect(info.durationSeconds, 'a still picture has no duration').toBe(0);
  });

  it.each(['mov,mp4,m4a,3gp,3g2,mj2', 'matroska,webm', 'mpegts', 'gif'])('does not mark a %s video as an image', (formatName) => {
    expect(parseProbe(probeJson([h264Stream], { ...mp4Format, format_name: formatName })).isImage).toBe(false);
  });

  it('takes the duration from a stream when the format has none', () => {
    expect(parseProbe(probeJson([h264Stream], { format_name: 'matroska,webm' })).durationSeconds).toBe(1.001);
    expect(parseProbe(probeJson([aacStream], { format_name: 'ogg' })).durationSeconds).toBe(1);
  });

  it('reads N/A or missing numbers as zero or undefined, never NaN', () => {
    const info = parseProbe(probeJson([{ ...h264Stream, nb_frames: undefined, duration: 'N/A' }], { format_name: 'mpegts', duration: 'N/A', size: 'N/A' }));
    expect(info.durationSeconds).toBe(0);
    expect(info.sizeBytes).toBe(0);
    expect(info.bitrate).toBeUndefined();
    expect(info.video?.frames).toBeUndefined();
  });

  it('gives an empty description for a probe with no streams and no format', () => {
    const info = parseProbe('{}');
    expect(info).toEqual({ formatName: 'unknown', durationSeconds: 0, startSeconds: 0, sizeBytes: 0, bitrate: undefined, isImage: false, video: undefined, audio: undefined });
  });

  it('takes the first audio stream and the first real video stream when there are several', () => {
    const second = { ...aacStream, index: 2, codec_name: 'ac3', channels: 6, sample_rate: '48000' };
    const info = parseProbe(probeJson([aacStream, h264Stream, second]));
    expect(info.audio?.codec).toBe('aac');
    expect(info.video?.codec).toBe('h264');
  });

  it('throws on text that is not JSON', () => {
    expect(() => parseProbe('not json')).toThrow();
  });
});
