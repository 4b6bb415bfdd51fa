// The request normalizer is the API's front door: every Rendiff request form must become one
// canonical MediaJobSpec, and every bad or hostile value must be refused with a SpecError that
// names the exact field the client wrote, before anything reaches FFmpeg.
import Value from 'typebox/value';
import { describe, it, expect } from 'vitest';
import { normalizeRequest, type RequestKind } from '../../crds/src/normalize.ts';
import { SpecError, ErrorCodes, type ErrorCode, type SpecIssue } from '../../crds/src/errors.ts';
import { parseBitrate, formatBitrate } from '../../crds/src/bitrate.ts';
import { parseResolution } from '../../crds/src/resolution.ts';
import { MediaJobSpec, Limits } from '../../crds/src/spec.ts';
import { AnalyzeRequest, ConvertRequest, StreamRequest } from '../../crds/src/request.ts';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const IN = '/storage/input/video.mp4';
const OUT = '/storage/output/video.mp4';
const defaultOptions = { priority: 'normal', hardwareAcceleration: 'auto' } as const;

function show(issues: readonly SpecIssue[]): string {
  return issues.map((i) => `${i.details.field} [${i.code}]: ${i.message}`).join('; ') || '(no issues)';
}

/** Normalizes a request that must be accepted; a refusal fails with the issues it listed. */
function accept(kind: RequestKind, body: unknown): MediaJobSpec {
  let spec: MediaJobSpec;
  try {
    spec = normalizeRequest(kind, body);
  } catch (e) {
    if (e instanceof SpecError) throw new Error(`expected the ${kind} request to be accepted, but it was refused: ${show(e.issues)}`);
    throw e;
  }
  expect(Value.Check(MediaJobSpec, spec), `the normalized spec must satisfy the canonical schema: ${JSON.stringify(spec)}`).toBe(true);
  // The documented request schema (OpenAPI) must never be stricter than the normalizer. Letter
  // case is the one leniency the schemas leave out (they list canonical names), hence the copy.
  const documented = { convert: ConvertRequest, stream: StreamRequest, analyze: AnalyzeRequest }[kind];
  const errors = [...Value.Errors(documented, lowerCased(body))].slice(0, 3).map((e) => `${e.instancePath}: ${e.message}`);
  expect(errors, `the ${kind} request schema refuses a body the normalizer accepts: ${JSON.stringify(body)}`).toEqual([]);
  return spec;
}

function lowerCased(v: unknown): unknown {
  if (typeof v === 'string') return v.toLowerCase();
  if (Array.isArray(v)) return v.map(lowerCased);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, lowerCased(x)]));
  return v;
}

/** Normalizes a request that must be refused and returns the SpecError. */
function reject(kind: RequestKind, body: unknown): SpecError {
  let spec: MediaJobSpec | undefined;
  try {
    spec = normalizeRequest(kind, body);
  } catch (e) {
    if (e instanceof SpecError) {
      expect(e.issues.length, 'a SpecError must carry at least one issue').toBeGreaterThan(0);
      return e;
    }
    throw new Error(`expected a SpecError, but normalizeRequest threw ${String(e)}`);
  }
  throw new Error(`expected the ${kind} request to be refused, but it normalized to ${JSON.stringify(spec)}`);
}

/** The issue naming exactly `field`; fails listing every issue when none does. */
function issueAt(err: SpecError, field: string): SpecIssue {
  const hit = err.issues.find((i) => i.details.field === field);
  if (!hit) throw new Error(`expected an issue naming '${field}', got: ${show(err.issues)}`);
  return hit;
}

/** Refuses `body` with an issue of `code` at `field`, and returns that issue. */
function expectIssue(kind: RequestKind, body: unknown, field: string, code: ErrorCode): SpecIssue {
  const err = reject(kind, body);
  const hit = issueAt(err, field);
  expect(hit.code, `the issue at ${field} has the wrong code (${hit.message})`).toBe(code);
  return hit;
}

const convert = (operations: unknown[], output: unknown = OUT, extra: Record<string, unknown> = {}) => ({
  input: IN,
  output,
  operations,
  ...extra,
});

// ---------------------------------------------------------------------------------------------
// The reference's examples
// ---------------------------------------------------------------------------------------------

describe('normalizeRequest: the examples of the Rendiff API reference', () => {
  it('accepts the output shorthand "mp4" and writes beside the input with the new extension', () => {
    expect(accept('convert', { input: '/storage/input/video.mov', output: 'mp4' })).toEqual({
      type: 'convert',
      input: { path: '/storage/input/video.mov' },
      output: { path: '/storage/input/video.mp4', format: 'mp4' },
      operations: [],
      options: defaultOptions,
    });
  });

  it('accepts the cURL basic conversion of an .avi to "mp4"', () => {
    const spec = accept('convert', { input: '/storage/input/video.avi', output: 'mp4' });
    expect(spec.output).toEqual({ path: '/storage/input/video.mp4', format: 'mp4' });
  });

  it('writes the shorthand output to "<name>.out.<ext>" when the input already has that extension', () => {
    const spec = accept('convert', { input: IN, output: 'mp4' });
    expect(spec.output?.path, 'the derived output must not overwrite the input').toBe('/storage/input/video.out.mp4');
  });

  const fullExample = {
    input: { path: '/storage/input/video.mov', credentials: 'presigned' },
    output: {
      path: '/storage/output/final.mp4',
      format: 'mp4',
      video: { codec: 'h264', preset: 'medium', crf: 23, resolution: '1920x1080', fps: 30 },
      audio: { codec: 'aac', bitrate: '192k', channels: 2, normalize: true },
    },
    operations: [
      { type: 'trim', start: 10, duration: 60 },
      { type: 'watermark', image: '/storage/assets/logo.png', position: 'bottom-right', opacity: 0.8 },
    ],
    options: { priority: 'high', hardware_acceleration: 'auto', webhook_url: 'https://your-app.com/webhook' },
  };

  it('normalizes the full convert example (trim + watermark + options) to the exact canonical spec', () => {
    expect(accept('convert', fullExample)).toEqual({
      type: 'convert',
      input: { path: '/storage/input/video.mov' },
      output: {
        path: '/storage/output/final.mp4',
        format: 'mp4',
        video: { codec: 'h264', preset: 'medium', crf: 23, width: 1920, height: 1080, fps: 30 },
        audio: { codec: 'aac', bitrate: 192_000, channels: 2, normalize: true },
      },
      operations: [
        { type: 'trim', start: 10, duration: 60 },
        { type: 'watermark', image: '/storage/assets/logo.png', position: 'bottom-right', opacity: 0.8, scale: 0.15, margin: 10 },
      ],
      options: { priority: 'high', hardwareAcceleration: 'auto', webhookUrl: 'https://your-app.com/webhook' },
    });
  });

  it('accepts the full example verbatim, with its s3:// input and "credentials": "presigned"', () => {
    const verbatim = { ...fullExample, input: { path: 's3://bucket/input/video.mov', credentials: 'presigned' } };
    expect(accept('convert', verbatim).input).toEqual({ path: 's3://bucket/input/video.mov' });
  });

  it('refuses credentials sent in a job: they are configured on the server', () => {
    const hit = expectIssue('convert', { ...fullExample, input: { path: 's3://bucket/in.mov', credentials: { access_key_id: 'AKIA', secret_access_key: 'x' } } }, 'input.credentials', 'INVALID_INPUT');
    expect(hit.message).toMatch(/configured on the server/);
    expect(JSON.stringify(hit), 'a refused secret is not echoed back').not.toContain('AKIA');
    expectIssue('analyze', { input: IN, reference: { path: 's3://bucket/ref.mov', credentials: 'mine' } }, 'reference.credentials', 'INVALID_INPUT');
  });

  it('derives "output": "mp4" beside an S3 input, and asks for a path beside a URL input', () => {
    expect(accept('convert', { input: 's3://bucket/in/video.mov', output: 'mp4' }).output?.path).toBe('s3://bucket/in/video.mp4');
    expectIssue('convert', { input: 'https://media.example.com/video.mov', output: 'mp4' }, 'output', 'INVALID_OUTPUT');
    expectIssue('convert', { input: 'https://media.example.com/video.mov', output: { format: 'mp4' } }, 'output.path', 'INVALID_OUTPUT');
  });

  it('reads presign_outputs as true (one hour) or seconds, only for S3 outputs', () => {
    const s3out = { input: IN, output: 's3://bucket/out/video.mp4' };
    expect(accept('convert', { ...s3out, options: { presign_outputs: true } }).options.presignOutputSeconds).toBe(3600);
    expect(accept('convert', { ...s3out, presign_outputs: 600 }).options.presignOutputSeconds).toBe(600);
    expect(accept('convert', { ...s3out, presign_outputs: false }).options.presignOutputSeconds).toBeUndefined();
    expectIssue('convert', { ...s3out, options: { presign_outputs: 8 * 24 * 3600 } }, 'options.presign_outputs', 'INVALID_REQUEST');
    expectIssue('convert', { input: IN, output: OUT, options: { presign_outputs: true } }, 'options.presign_outputs', 'INVALID_REQUEST');
  });

  it('normalizes the 720p resize example to width and height on the output video', () => {
    expect(
      accept('convert', { input: IN, output: { path: '/storage/output/video_720p.mp4', video: { resolution: '1280x720' } } }),
    ).toEqual({
      type: 'convert',
      input: { path: IN },
      output: { path: '/storage/output/video_720p.mp4', format: 'mp4', video: { width: 1280, height: 720 } },
      operations: [],
      options: defaultOptions,
    });
  });

  it('normalizes the audio extraction example to an mp3 output with no video settings', () => {
    expect(accept('convert', { input: IN, output: { path: '/storage/output/audio.mp3', format: 'mp3' } })).toEqual({
      type: 'convert',
      input: { path: IN },
      output: { path: '/storage/output/audio.mp3', format: 'mp3' },
      operations: [],
      options: defaultOptions,
    });
  });

  it('normalizes the estimate example\'s {"type":"resize","resolution":"4k"} to a 2160-line scale', () => {
    const spec = accept('convert', { input: IN, output: 'mp4', operations: [{ type: 'resize', resolution: '4k' }] });
    expect(spec.operations).toEqual([{ type: 'scale', height: 2160 }]);
    expect(spec.output?.format).toBe('mp4');
  });

  it('normalizes the first batch job item (transcode to h264 in mp4)', () => {
    const spec = accept('convert', {
      input: '/storage/video1.mp4',
      output: '/storage/output1.mp4',
      operations: [{ type: 'transcode', params: { video_codec: 'h264' } }],
    });
    expect(spec.output).toEqual({ path: '/storage/output1.mp4', format: 'mp4', video: { codec: 'h264' } });
    expect(spec.operations, 'transcode sets output settings and adds no filter operation').toEqual([]);
  });

  it('normalizes the second batch job item (transcode to vp9 in webm) to the exact canonical spec', () => {
    expect(
      accept('convert', {
        input: '/storage/video2.avi',
        output: '/storage/output2.webm',
        operations: [{ type: 'transcode', params: { video_codec: 'vp9' } }],
      }),
    ).toEqual({
      type: 'convert',
      input: { path: '/storage/video2.avi' },
      output: { path: '/storage/output2.webm', format: 'webm', video: { codec: 'vp9' } },
      operations: [],
      options: defaultOptions,
    });
  });

  it('normalizes the single-thumbnail example to a jpg output with one thumbnail operation', () => {
    expect(
      accept('convert', {
        input: '/storage/video.mp4',
        output: '/storage/thumb.jpg',
        operations: [{ type: 'thumbnail', params: { timestamp: 30, width: 1920, height: 1080, quality: 'high' } }],
      }),
    ).toEqual({
      type: 'convert',
      input: { path: '/storage/video.mp4' },
      output: { path: '/storage/thumb.jpg', format: 'jpg' },
      operations: [{ type: 'thumbnail', timestamp: 30, width: 1920, height: 1080, quality: 'high' }],
      options: defaultOptions,
    });
  });

  it('normalizes the thumbnail_grid example to a folder output (trailing slash dropped) of jpg images', () => {
    expect(
      accept('convert', {
        input: '/storage/video.mp4',
        output: '/storage/thumbnails/',
        operations: [{ type: 'thumbnail_grid', params: { rows: 3, cols: 4, width: 1280, height: 720 } }],
      }),
    ).toEqual({
      type: 'convert',
      input: { path: '/storage/video.mp4' },
      output: { path: '/storage/thumbnails', format: 'jpg' },
      operations: [{ type: 'thumbnail_grid', rows: 3, cols: 4, width: 1280, height: 720 }],
      options: defaultOptions,
    });
  });

  it('normalizes the watermark example with params.watermark_path and params.scale', () => {
    const spec = accept('convert', {
      input: '/storage/video.mp4',
      output: '/storage/watermarked.mp4',
      operations: [
        { type: 'watermark', params: { watermark_path: '/storage/logo.png', position: 'bottom-right', opacity: 0.8, scale: 0.15 } },
      ],
    });
    expect(spec.operations).toEqual([
      { type: 'watermark', image: '/storage/logo.png', position: 'bottom-right', opacity: 0.8, scale: 0.15, margin: 10 },
    ]);
    expect(spec.output).toEqual({ path: '/storage/watermarked.mp4', format: 'mp4' });
  });

  it('normalizes the HLS stream example with named resolutions to the exact canonical spec', () => {
    expect(
      accept('stream', {
        input: IN,
        output: '/storage/output/stream',
        type: 'hls',
        variants: [
          { resolution: '1080p', bitrate: '5M' },
          { resolution: '720p', bitrate: '2.5M' },
          { resolution: '480p', bitrate: '1M' },
        ],
        segment_duration: 6,
      }),
    ).toEqual({
      type: 'stream',
      input: { path: IN },
      operations: [],
      stream: {
        format: 'hls',
        path: '/storage/output/stream',
        segmentDuration: 6,
        videoCodec: 'h264',
        audioBitrate: 128_000,
        variants: [
          { name: '1080p', height: 1080, bitrate: 5_000_000 },
          { name: '720p', height: 720, bitrate: 2_500_000 },
          { name: '480p', height: 480, bitrate: 1_000_000 },
        ],
      },
      options: defaultOptions,
    });
  });

  it('normalizes the cURL stream example, defaulting segment_duration to 6 seconds', () => {
    const spec = accept('stream', {
      input: IN,
      output: '/storage/output/stream',
      type: 'hls',
      variants: [
        { resolution: '720p', bitrate: '2M' },
        { resolution: '480p', bitrate: '1M' },
      ],
    });
    expect(spec.stream?.segmentDuration).toBe(6);
    expect(spec.stream?.variants).toEqual([
      { name: '720p', height: 720, bitrate: 2_000_000 },
      { name: '480p', height: 480, bitrate: 1_000_000 },
    ]);
  });

  it('normalizes the adaptive-streaming example with WxH resolutions and explicit names', () => {
    const spec = accept('stream', {
      input: '/storage/video.mp4',
      output: '/storage/streams/',
      type: 'hls',
      variants: [
        { resolution: '1920x1080', bitrate: '5000k', name: '1080p' },
        { resolution: '1280x720', bitrate: '2500k', name: '720p' },
        { resolution: '854x480', bitrate: '1000k', name: '480p' },
      ],
      segment_duration: 6,
    });
    expect(spec.stream).toEqual({
      format: 'hls',
      path: '/storage/streams',
      segmentDuration: 6,
      videoCodec: 'h264',
      audioBitrate: 128_000,
      variants: [
        { name: '1080p', width: 1920, height: 1080, bitrate: 5_000_000 },
        { name: '720p', width: 1280, height: 720, bitrate: 2_500_000 },
        { name: '480p', width: 854, height: 480, bitrate: 1_000_000 },
      ],
    });
  });

  it.each([
    ['/storage/input/video.mp4', '/storage/reference/original.mp4'],
    ['/storage/processed.mp4', '/storage/original.mp4'],
  ])('normalizes the analyze example %s against %s to the exact canonical spec', (input, reference) => {
    expect(accept('analyze', { input, reference, metrics: ['vmaf', 'psnr', 'ssim'] })).toEqual({
      type: 'analyze',
      input: { path: input },
      operations: [],
      analyze: { reference, metrics: ['vmaf', 'psnr', 'ssim'] },
      options: defaultOptions,
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Request forms and defaults
// ---------------------------------------------------------------------------------------------

describe('normalizeRequest: operation styles', () => {
  // [request type, fields, output, canonical operations]
  const cases: [string, Record<string, unknown>, string, unknown[]][] = [
    ['trim', { start: 10, duration: 60 }, OUT, [{ type: 'trim', start: 10, duration: 60 }]],
    ['trim', { start_time: '00:00:10', end_time: '1:00' }, OUT, [{ type: 'trim', start: 10, end: 60 }]],
    ['resize', { resolution: '720p' }, OUT, [{ type: 'scale', height: 720 }]],
    ['scale', { width: 1280, height: 720 }, OUT, [{ type: 'scale', width: 1280, height: 720 }]],
    ['crop', { width: 640, height: 360, x: 10, y: 20 }, OUT, [{ type: 'crop', width: 640, height: 360, x: 10, y: 20 }]],
    ['rotate', { degrees: 90 }, OUT, [{ type: 'rotate', degrees: 90 }]],
    ['rotate', { angle: -90 }, OUT, [{ type: 'rotate', degrees: 270 }]],
    ['flip', { direction: 'vertical' }, OUT, [{ type: 'flip', direction: 'vertical' }]],
    ['flip', { axis: 'x' }, OUT, [{ type: 'flip', direction: 'horizontal' }]],
    ['fps', { fps: 30 }, OUT, [{ type: 'fps', fps: 30 }]],
    ['framerate', { rate: 24 }, OUT, [{ type: 'fps', fps: 24 }]],
    ['speed', { factor: 1.5 }, OUT, [{ type: 'speed', factor: 1.5 }]],
    ['deinterlace', {}, OUT, [{ type: 'deinterlace' }]],
    ['denoise', { strength: 'strong' }, OUT, [{ type: 'denoise', strength: 'strong' }]],
    ['sharpen', { amount: 2 }, OUT, [{ type: 'sharpen', amount: 2 }]],
    ['blur', { sigma: 3 }, OUT, [{ type: 'blur', sigma: 3 }]],
    ['color', { brightness: 0.1, contrast: 1.2, saturation: 1.1, gamma: 1.5 }, OUT, [{ type: 'color', brightness: 0.1, contrast: 1.2, saturation: 1.1, gamma: 1.5 }]],
    ['filter', { denoise: 'light', sharpen: 0.5 }, OUT, [{ type: 'denoise', strength: 'light' }, { type: 'sharpen', amount: 0.5 }]],
    ['fade', { direction: 'in', duration: 2 }, OUT, [{ type: 'fade', direction: 'in', duration: 2 }]],
    ['fade_out', { duration: 1.5 }, OUT, [{ type: 'fade', direction: 'out', duration: 1.5 }]],
    [
      'watermark',
      { watermark_path: '/storage/logo.png', position: 'top-left', opacity: 0.5, scale: 0.2, margin: 20 },
      OUT,
      [{ type: 'watermark', image: '/storage/logo.png', position: 'top-left', opacity: 0.5, scale: 0.2, margin: 20 }],
    ],
    ['thumbnail', { timestamp: 30, width: 320, height: 180, quality: 'medium' }, '/storage/thumb.jpg', [{ type: 'thumbnail', timestamp: 30, width: 320, height: 180, quality: 'medium' }]],
    ['thumbnail_grid', { rows: 2, cols: 2, width: 640, height: 360 }, '/storage/grid.png', [{ type: 'thumbnail_grid', rows: 2, cols: 2, width: 640, height: 360 }]],
  ];

  it.each(cases)('gives the same spec for a "%s" operation written flat or under params (%j)', (type, fields, output, expected) => {
    const flat = accept('convert', convert([{ type, ...fields }], output));
    const params = accept('convert', convert([{ type, params: fields }], output));
    expect(flat.operations, `flat ${type} normalized to the wrong operations`).toEqual(expected);
    expect(params, `the params form of ${type} must normalize exactly like the flat form`).toEqual(flat);
  });

  it('gives the same output settings for a transcode operation written flat or under params', () => {
    const fields = { video_codec: 'hevc', audio_codec: 'libopus', video_bitrate: '3M', audio_bitrate: '96k', preset: 'slow', fps: 25 };
    const flat = accept('convert', convert([{ type: 'transcode', ...fields }], '/storage/out.mkv'));
    const params = accept('convert', convert([{ type: 'transcode', params: fields }], '/storage/out.mkv'));
    expect(flat.output).toEqual({
      path: '/storage/out.mkv',
      format: 'mkv',
      video: { codec: 'h265', bitrate: 3_000_000, preset: 'slow', fps: 25 },
      audio: { codec: 'opus', bitrate: 96_000 },
    });
    expect(params).toEqual(flat);
  });

  it('lets output.video win over a transcode operation that sets the same setting', () => {
    const spec = accept('convert', {
      input: IN,
      output: { path: OUT, video: { codec: 'h265' } },
      operations: [{ type: 'transcode', params: { video_codec: 'h264', preset: 'fast' } }],
    });
    expect(spec.output?.video).toEqual({ codec: 'h265', preset: 'fast' });
  });

  it('fills documented defaults for a bare watermark, thumbnail, grid, blur, sharpen, fade and denoise', () => {
    const spec = accept('convert', convert([
      { type: 'watermark', image: '/storage/logo.png' },
      { type: 'blur' },
      { type: 'sharpen' },
      { type: 'fade_in' },
      { type: 'denoise' },
    ]));
    expect(spec.operations).toEqual([
      { type: 'watermark', image: '/storage/logo.png', position: 'bottom-right', opacity: 1, scale: 0.15, margin: 10 },
      { type: 'blur', sigma: 2 },
      { type: 'sharpen', amount: 1 },
      { type: 'fade', direction: 'in', duration: 1 },
      { type: 'denoise', strength: 'medium' },
    ]);
    expect(accept('convert', convert([{ type: 'thumbnail_grid' }], '/storage/sheet/')).operations).toEqual([
      { type: 'thumbnail_grid', rows: 3, cols: 4, width: 1280, height: 720 },
    ]);
    expect(accept('convert', convert([{ type: 'thumbnail', timestamp: 1 }], '/storage/t.jpg')).operations).toEqual([
      { type: 'thumbnail', timestamp: 1, quality: 'high' },
    ]);
  });

  it.each([
    ['90', 90],
    ['01:30', 90],
    ['00:01:30', 90],
    ['1:00:00.5', 3600.5],
    ['12.5s', 12.5],
    [7, 7],
  ])('reads the trim start %j as %d seconds', (start, seconds) => {
    expect(accept('convert', convert([{ type: 'trim', start }])).operations).toEqual([{ type: 'trim', start: seconds }]);
  });
});

describe('normalizeRequest: input forms', () => {
  it('gives the same spec for input as a string and as {path, credentials}', () => {
    const asString = accept('convert', { input: IN, output: OUT });
    const asObject = accept('convert', { input: { path: IN, credentials: 'presigned' }, output: OUT });
    const pathOnly = accept('convert', { input: { path: IN }, output: OUT });
    expect(asObject).toEqual(asString);
    expect(pathOnly).toEqual(asString);
    expect(asString.input, 'credentials must not leak into the canonical spec').toEqual({ path: IN });
  });

  it('collapses repeated slashes in storage paths', () => {
    expect(accept('convert', { input: '/storage//input///video.mp4', output: OUT }).input.path).toBe(IN);
  });

  it('refuses an unknown key inside the input object, naming input.<key>', () => {
    const hit = expectIssue('convert', { input: { path: IN, credential: 'x' }, output: OUT }, 'input.credential', 'INVALID_INPUT');
    expect(hit.details.suggestion).toBe("did you mean 'credentials'?");
  });

  it('refuses an input object without a path, naming input.path', () => {
    expectIssue('convert', { input: { credentials: 'presigned' }, output: OUT }, 'input.path', 'INVALID_INPUT');
  });

  it('does not describe a missing value as "undefined undefined" in its message', () => {
    const err = reject('convert', { input: { credentials: 'presigned' }, output: OUT });
    expect(issueAt(err, 'input.path').message, 'describe(undefined) renders a garbled message').not.toContain('undefined undefined');
  });
});

describe('normalizeRequest: output forms', () => {
  it('accepts an output object with only a format and derives the path from the input', () => {
    expect(accept('convert', { input: IN, output: { format: 'webm' } }).output).toEqual({ path: '/storage/input/video.webm', format: 'webm' });
  });

  it('takes the container from the extension when no format is given, including aliases like .jpeg', () => {
    expect(accept('convert', { input: IN, output: '/storage/out/clip.MKV' }).output?.format).toBe('mkv');
    expect(accept('convert', convert([{ type: 'thumbnail', timestamp: 1 }], '/storage/t.jpeg')).output?.format).toBe('jpg');
  });

  it('accepts a format name in any case', () => {
    expect(accept('convert', { input: IN, output: 'WEBM' }).output?.format).toBe('webm');
  });

  it('writes a thumbnail series into a folder', () => {
    expect(accept('convert', convert([{ type: 'thumbnail', count: 5 }], '/storage/thumbs/')).output).toEqual({ path: '/storage/thumbs', format: 'jpg' });
  });

  it('refuses a folder as the output of a video conversion', () => {
    expectIssue('convert', { input: IN, output: '/storage/output/' }, 'output', 'INVALID_OUTPUT');
  });

  it('refuses an output path with no known extension and no format', () => {
    const hit = expectIssue('convert', { input: IN, output: { path: '/storage/output/video' } }, 'output.path', 'INVALID_OUTPUT');
    expect(hit.details.allowed).toContain('mp4');
  });

  it('refuses a format that contradicts the extension, naming output.format', () => {
    const hit = expectIssue('convert', { input: IN, output: { path: OUT, format: 'mov' } }, 'output.format', 'INVALID_OUTPUT');
    expect(hit.details.suggestion).toContain("'mp4'");
  });

  it('refuses an output object with neither path nor format', () => {
    expectIssue('convert', { input: IN, output: { video: { codec: 'h264' } } }, 'output.path', 'INVALID_OUTPUT');
  });

  it('maps codec aliases (hevc, libx264, libopus, pcm_s16le) to canonical names', () => {
    const spec = accept('convert', { input: IN, output: { path: '/storage/o.mkv', video: { codec: 'HEVC' }, audio: { codec: 'libopus' } } });
    expect(spec.output?.video?.codec).toBe('h265');
    expect(spec.output?.audio?.codec).toBe('opus');
    expect(accept('convert', { input: IN, output: { path: OUT, video: { codec: 'libx264' } } }).output?.video?.codec).toBe('h264');
    expect(accept('convert', { input: IN, output: { path: '/storage/o.wav', audio: { codec: 'pcm_s16le' } } }).output?.audio?.codec).toBe('pcm');
  });

  it('reads framerate/pix_fmt aliases and sample_rate as a number into the canonical names', () => {
    const spec = accept('convert', {
      input: IN,
      output: { path: OUT, video: { framerate: 24, pix_fmt: 'yuv420p' }, audio: { sample_rate: 48000 } },
    });
    expect(spec.output?.video).toEqual({ fps: 24, pixelFormat: 'yuv420p' });
    expect(spec.output?.audio).toEqual({ sampleRate: '48000' });
  });
});

describe('normalizeRequest: options', () => {
  it('reads options from the options object and from the top level alike', () => {
    const nested = accept('convert', { input: IN, output: OUT, options: { priority: 'low', webhook_url: 'http://hooks.example/x', timeout_seconds: 60 } });
    const top = accept('convert', { input: IN, output: OUT, priority: 'low', webhook_url: 'http://hooks.example/x', timeout_seconds: 60 });
    expect(nested.options).toEqual({ priority: 'low', hardwareAcceleration: 'auto', webhookUrl: 'http://hooks.example/x', timeoutSeconds: 60 });
    expect(top.options).toEqual(nested.options);
  });

  it.each([
    [true, 'auto'],
    [false, 'none'],
    ['gpu', 'nvenc'],
    ['cuda', 'nvenc'],
    ['cpu', 'none'],
    ['none', 'none'],
  ])('maps hardware_acceleration %j to %s', (value, expected) => {
    expect(accept('convert', { input: IN, output: OUT, options: { hardware_acceleration: value } }).options.hardwareAcceleration).toBe(expected);
  });

  it('maps webhook event aliases (completed, failed) to canonical names and drops duplicates', () => {
    const spec = accept('convert', { input: IN, output: OUT, webhook_events: ['completed', 'failed', 'error', 'progress'] });
    expect(spec.options.webhookEvents).toEqual(['complete', 'error', 'progress']);
  });

  it.each([
    'ftp://example.com/hook',
    'file:///etc/passwd',
    'javascript:alert(1)',
    'gopher://127.0.0.1:25/x',
    '//evil.example/x',
    'https://',
    'http://exa mple.com/x',
    '/storage/hook',
  ])('refuses the webhook_url %j because it is not an http(s) URL', (url) => {
    const nested = expectIssue('convert', { input: IN, output: OUT, options: { webhook_url: url } }, 'options.webhook_url', 'INVALID_REQUEST');
    expect(nested.details.value).toBe(url);
    expectIssue('convert', { input: IN, output: OUT, webhook_url: url }, 'webhook_url', 'INVALID_REQUEST');
  });

  it('refuses a webhook_url that is not a string', () => {
    expectIssue('convert', { input: IN, output: OUT, options: { webhook_url: 42 } }, 'options.webhook_url', 'INVALID_REQUEST');
  });

  it('refuses an unknown webhook event with a suggestion', () => {
    const hit = expectIssue('convert', { input: IN, output: OUT, options: { webhook_events: ['progres'] } }, 'options.webhook_events[0]', 'INVALID_REQUEST');
    expect(hit.details.suggestion).toBe("did you mean 'progress'?");
  });
});

describe('normalizeRequest: stream and analyze forms', () => {
  it('fills the default ladder, codec and audio bitrate when a stream names only input and output', () => {
    const spec = accept('stream', { input: IN, output: '/storage/out/hls' });
    expect(spec.stream).toEqual({
      format: 'hls',
      path: '/storage/out/hls',
      segmentDuration: 6,
      videoCodec: 'h264',
      audioBitrate: 128_000,
      variants: [
        { name: '1080p', height: 1080, bitrate: 5_000_000 },
        { name: '720p', height: 720, bitrate: 2_500_000 },
        { name: '480p', height: 480, bitrate: 1_000_000 },
      ],
    });
  });

  it('reads a DASH stream with hevc, an audio bitrate and an output object', () => {
    const spec = accept('stream', {
      input: IN,
      output: { path: '/storage/out/dash/' },
      format: 'dash',
      video_codec: 'hevc',
      audio_bitrate: '192k',
      variants: [{ width: 1280, height: 720, bitrate: 2_000_000 }],
    });
    expect(spec.stream).toEqual({
      format: 'dash',
      path: '/storage/out/dash',
      segmentDuration: 6,
      videoCodec: 'h265',
      audioBitrate: 192_000,
      variants: [{ name: '1280x720', width: 1280, height: 720, bitrate: 2_000_000 }],
    });
  });

  it('refuses unknown keys inside a stream output object', () => {
    expectIssue('stream', { input: IN, output: { path: '/storage/out/hls', segment_duraton: 4 } }, 'output.segment_duraton', 'INVALID_OUTPUT');
  });

  it('reads analyze metrics case-insensitively, drops duplicates and accepts a reference object', () => {
    const spec = accept('analyze', { input: IN, reference: { path: '/storage/ref.mp4' }, metrics: ['VMAF', 'vmaf', 'ssim'] });
    expect(spec.analyze).toEqual({ reference: '/storage/ref.mp4', metrics: ['vmaf', 'ssim'] });
  });

  it('defaults analyze metrics to vmaf, psnr and ssim and keeps a report path', () => {
    const spec = accept('analyze', { input: IN, reference: '/storage/ref.mp4', output: '/storage/reports/' });
    expect(spec.analyze).toEqual({ reference: '/storage/ref.mp4', metrics: ['vmaf', 'psnr', 'ssim'], path: '/storage/reports' });
  });
});

// ---------------------------------------------------------------------------------------------
// Bitrates and resolutions
// ---------------------------------------------------------------------------------------------

describe('parseBitrate', () => {
  it.each([
    ['192k', 192_000],
    ['2.5M', 2_500_000],
    ['5M', 5_000_000],
    ['5000k', 5_000_000],
    [5_000_000, 5_000_000],
    ['128000', 128_000],
    ['1.5k', 1500],
    ['1G', 1_000_000_000],
    ['192 kbps', 192_000],
    ['64kb/s', 64_000],
    [' 96k ', 96_000],
  ])('reads %j as %d bits per second', (input, bps) => {
    expect(parseBitrate(input)).toBe(bps);
  });

  it.each([
    ['abc'], [''], ['-5M'], ['5MM'], ['1e6'], ['0k'], ['0x10'], ['5T'], ['k'], ['.5M'],
    [0], [-1], [1.5], [Number.NaN], [Number.POSITIVE_INFINITY],
    ['0.1,drawtext=textfile=/etc/passwd'], ['1:a=1[x];[x]'], ['5M;movie=/etc/passwd'],
  ])('refuses %j as a bitrate', (input) => {
    expect(parseBitrate(input)).toBeUndefined();
  });

  it.each([
    [192_000, '192k'],
    [1500, '1500'],
  ])('formats %d bits per second as %s', (bps, text) => {
    expect(formatBitrate(bps)).toBe(text);
  });
});

describe('parseResolution', () => {
  it.each([
    ['1920x1080', { width: 1920, height: 1080 }],
    ['854x480', { width: 854, height: 480 }],
    ['720p', { height: 720 }],
    ['1080P', { height: 1080 }],
    ['4k', { height: 2160 }],
    ['4K', { height: 2160 }],
    ['8k', { height: 4320 }],
    ['hd', { height: 720 }],
    [' 1280x720 ', { width: 1280, height: 720 }],
    ['8192x8192', { width: 8192, height: 8192 }],
    ['1000p', { height: 1000 }],
    ['8192p', { height: 8192 }],
  ])('reads %j as %j', (input, size) => {
    expect(parseResolution(input)).toEqual(size);
  });

  it.each([
    '1920*1080', '1920x', 'x1080', '100000x100000', '8193x100', '1x1', '720', '720i', '', '-1920x1080',
    '1920x1080,scale=1', '1920x1080;movie=/etc/passwd', '1:a=1[x];[x]', '16k', '1920 x 1080',
    '9000p', '00p', '1p', '720p,scale=1',
  ])('refuses %j as a resolution', (input) => {
    expect(parseResolution(input)).toBeUndefined();
  });
});

describe('normalizeRequest: bitrates and resolutions in requests', () => {
  it.each([
    ['192k', 192_000],
    ['2.5M', 2_500_000],
    [5_000_000, 5_000_000],
    ['5000k', 5_000_000],
  ])('reads output.video.bitrate %j as %d', (bitrate, bps) => {
    expect(accept('convert', { input: IN, output: { path: OUT, video: { bitrate } } }).output?.video?.bitrate).toBe(bps);
  });

  it.each([
    ['1920x1080', { width: 1920, height: 1080 }],
    ['720p', { height: 720 }],
    ['4k', { height: 2160 }],
  ])('reads output.video.resolution %j as %j', (resolution, size) => {
    expect(accept('convert', { input: IN, output: { path: OUT, video: { resolution } } }).output?.video).toEqual(size);
  });

  it.each([
    ['output.video.bitrate', { video: { bitrate: '5 megabits' } }],
    ['output.video.bitrate', { video: { bitrate: '999' } }],
    ['output.video.bitrate', { video: { bitrate: '600M' } }],
    ['output.audio.bitrate', { audio: { bitrate: '2M' } }],
    ['output.audio.bitrate', { audio: { bitrate: 0 } }],
    ['output.audio.bitrate', { audio: { bitrate: true } }],
    ['output.video.resolution', { video: { resolution: '1920x1080p' } }],
    ['output.video.resolution', { video: { resolution: '100000x100000' } }],
    ['output.video.resolution', { video: { resolution: 1080 } }],
  ])('refuses a bad value at %s (%j)', (field, settings) => {
    expectIssue('convert', { input: IN, output: { path: OUT, ...settings } }, field, 'INVALID_OUTPUT');
  });

  it.each([
    ['variants[0].bitrate', [{ resolution: '720p', bitrate: 'fast' }]],
    ['variants[0].bitrate', [{ resolution: '720p' }]],
    ['variants[0].resolution', [{ resolution: '720x', bitrate: '1M' }]],
    ['variants[1].bitrate', [{ resolution: '720p', bitrate: '1M' }, { resolution: '480p', bitrate: -5 }]],
    ['variants[0]', [{ bitrate: '1M' }]],
    ['variants[0].width', [{ resolution: '720p', width: 100_000, bitrate: '1M' }]],
  ])('refuses a bad stream variant at %s', (field, variants) => {
    expectIssue('stream', { input: IN, output: '/storage/out/hls', variants }, field, 'INVALID_OUTPUT');
  });
});

// ---------------------------------------------------------------------------------------------
// Errors: codes, field names, all problems at once
// ---------------------------------------------------------------------------------------------

describe('normalizeRequest: malformed bodies', () => {
  it.each([[null], [[]], ['{"input":"/storage/a.mp4"}'], [42], [true], [undefined]])(
    'refuses the body %j with INVALID_REQUEST naming "body"',
    (body) => {
      for (const kind of ['convert', 'stream', 'analyze'] as const) {
        const err = reject(kind, body);
        expect(err.issues.map((i) => [i.details.field, i.code]), `${kind} with body ${JSON.stringify(body)}`).toEqual([['body', 'INVALID_REQUEST']]);
      }
    },
  );

  it.each([
    ['convert', { output: OUT }, 'input', 'INVALID_INPUT'],
    ['stream', { output: '/storage/out/hls' }, 'input', 'INVALID_INPUT'],
    ['analyze', { reference: '/storage/ref.mp4' }, 'input', 'INVALID_INPUT'],
    ['convert', { input: IN }, 'output', 'INVALID_OUTPUT'],
    ['stream', { input: IN }, 'output', 'INVALID_OUTPUT'],
    ['analyze', { input: IN }, 'reference', 'INVALID_INPUT'],
  ] as const)('refuses a %s request %j that lacks a required field, naming %s', (kind, body, field, code) => {
    const hit = expectIssue(kind, body, field, code);
    expect(hit.message).toMatch(/required/);
  });

  it('reports both a missing input and a missing output at once', () => {
    const err = reject('convert', {});
    expect(err.issues.map((i) => i.details.field).sort()).toEqual(['input', 'output']);
  });

  it.each([
    ['input as a number', { input: 42, output: OUT }, 'input', 'INVALID_INPUT'],
    ['input as an array', { input: [IN], output: OUT }, 'input', 'INVALID_INPUT'],
    ['input as an empty string', { input: '', output: OUT }, 'input', 'INVALID_INPUT'],
    ['output as a number', { input: IN, output: 4 }, 'output', 'INVALID_OUTPUT'],
    ['output as an array', { input: IN, output: [OUT] }, 'output', 'INVALID_OUTPUT'],
    ['output.video as an array', { input: IN, output: { path: OUT, video: [] } }, 'output.video', 'INVALID_OUTPUT'],
    ['output.audio as a string', { input: IN, output: { path: OUT, audio: 'aac' } }, 'output.audio', 'INVALID_OUTPUT'],
    ['crf as a string', { input: IN, output: { path: OUT, video: { crf: '23' } } }, 'output.video.crf', 'INVALID_OUTPUT'],
    ['fps as a boolean', { input: IN, output: { path: OUT, video: { fps: true } } }, 'output.video.fps', 'INVALID_OUTPUT'],
    ['width as null', { input: IN, output: { path: OUT, video: { width: null } } }, 'output.video.width', 'INVALID_OUTPUT'],
    ['channels as a string', { input: IN, output: { path: OUT, audio: { channels: '2' } } }, 'output.audio.channels', 'INVALID_OUTPUT'],
    ['normalize as a string', { input: IN, output: { path: OUT, audio: { normalize: 'yes' } } }, 'output.audio.normalize', 'INVALID_OUTPUT'],
    ['sample_rate as an array', { input: IN, output: { path: OUT, audio: { sample_rate: ['48000'] } } }, 'output.audio.sample_rate', 'INVALID_OUTPUT'],
    ['sample_rate as an object', { input: IN, output: { path: OUT, audio: { sample_rate: { hz: 48000 } } } }, 'output.audio.sample_rate', 'INVALID_OUTPUT'],
    ['operations as an object', { input: IN, output: OUT, operations: { type: 'trim' } }, 'operations', 'INVALID_OPERATION'],
    ['an operation as a string', { input: IN, output: OUT, operations: ['trim'] }, 'operations[0]', 'INVALID_OPERATION'],
    ['params as an array', { input: IN, output: OUT, operations: [{ type: 'trim', params: [10] }] }, 'operations[0].params', 'INVALID_OPERATION'],
    ['params as a string', { input: IN, output: OUT, operations: [{ type: 'trim', params: 'start=10' }] }, 'operations[0].params', 'INVALID_OPERATION'],
    ['opacity as a string', { input: IN, output: OUT, operations: [{ type: 'watermark', params: { image: '/storage/l.png', opacity: '0.5' } }] }, 'operations[0].params.opacity', 'INVALID_OPERATION'],
    ['transcode sample_rate as an array', { input: IN, output: OUT, operations: [{ type: 'transcode', params: { sample_rate: [44100] } }] }, 'operations[0].params.sample_rate', 'INVALID_OPERATION'],
    ['options as an array', { input: IN, output: OUT, options: [] }, 'options', 'INVALID_REQUEST'],
    ['webhook_events as a string', { input: IN, output: OUT, options: { webhook_events: 'complete' } }, 'options.webhook_events', 'INVALID_REQUEST'],
    ['timeout as a string', { input: IN, output: OUT, options: { timeout: '60' } }, 'options.timeout', 'INVALID_REQUEST'],
  ])('refuses %s, naming the field', (_what, body, field, code) => {
    expectIssue('convert', body, field, code as ErrorCode);
  });

  it.each([
    ['variants as an object', { variants: { resolution: '720p' } }, 'variants'],
    ['variants as an empty array', { variants: [] }, 'variants'],
    ['a variant as a string', { variants: ['720p'] }, 'variants[0]'],
    ['segment_duration as a string', { segment_duration: '6' }, 'segment_duration'],
  ])('refuses a stream with %s, naming the field', (_what, extra, field) => {
    expectIssue('stream', { input: IN, output: '/storage/out/hls', ...extra }, field, 'INVALID_OUTPUT');
  });

  it.each([
    ['metrics as a string', { metrics: 'vmaf' }, 'metrics'],
    ['metrics empty', { metrics: [] }, 'metrics'],
    ['an unknown metric', { metrics: ['vmaf', 'mse'] }, 'metrics[1]'],
  ])('refuses an analyze request with %s, naming the field', (_what, extra, field) => {
    expectIssue('analyze', { input: IN, reference: '/storage/ref.mp4', ...extra }, field, 'INVALID_REQUEST');
  });
});

describe('normalizeRequest: unknown keys and types', () => {
  it.each([
    ['convert', { input: IN, output: OUT, ouput: 'mp4' }, 'ouput', 'output'],
    ['convert', { input: IN, output: OUT, operation: [] }, 'operation', 'operations'],
    ['stream', { input: IN, output: '/storage/out/hls', segment_duraton: 4 }, 'segment_duraton', 'segment_duration'],
    ['stream', { input: IN, output: '/storage/out/hls', variant: [] }, 'variant', 'variants'],
    ['analyze', { input: IN, reference: '/storage/r.mp4', metric: ['vmaf'] }, 'metric', 'metrics'],
  ] as const)('refuses the unknown top-level key in a %s request and suggests the right one (%j)', (kind, body, field, near) => {
    const hit = expectIssue(kind, body, field, 'INVALID_REQUEST');
    expect(hit.message).toContain(`'${field}'`);
    expect(hit.details.suggestion).toBe(`did you mean '${near}'?`);
    expect(hit.details.allowed).toContain(near);
  });

  it('refuses an unknown top-level key that resembles nothing, without a suggestion', () => {
    const hit = expectIssue('convert', { input: IN, output: OUT, zzzzzzzzzz: 1 }, 'zzzzzzzzzz', 'INVALID_REQUEST');
    expect(hit.details.suggestion).toBeUndefined();
  });

  it.each([
    [{ input: IN, output: { path: OUT, video: { crff: 20 } } }, 'output.video.crff', 'INVALID_OUTPUT', 'crf'],
    [{ input: IN, output: { path: OUT, audio: { bitrat: '128k' } } }, 'output.audio.bitrat', 'INVALID_OUTPUT', 'bitrate'],
    [{ input: IN, output: { path: OUT, fromat: 'mp4' } }, 'output.fromat', 'INVALID_OUTPUT', 'format'],
    [{ input: IN, output: OUT, options: { priorty: 'high' } }, 'options.priorty', 'INVALID_REQUEST', 'priority'],
    [{ input: IN, output: OUT, operations: [{ type: 'trim', strat: 1 }] }, 'operations[0].strat', 'INVALID_OPERATION', 'start'],
  ] as const)('refuses a misspelled nested key %j at %s with a suggestion', (body, field, code, near) => {
    const hit = expectIssue('convert', body, field, code);
    expect(hit.details.suggestion).toBe(`did you mean '${near}'?`);
  });

  it('names an unknown key written under params as operations[i].params.<key>', () => {
    const body = convert([{ type: 'watermark', params: { image: '/storage/l.png', opacityy: 1 } }]);
    const hit = expectIssue('convert', body, 'operations[0].params.opacityy', 'INVALID_OPERATION');
    expect(hit.details.suggestion).toBe("did you mean 'opacity'?");
  });

  it('refuses an unknown operation type, listing the allowed ones', () => {
    const hit = expectIssue('convert', convert([{ type: 'explode' }]), 'operations[0].type', 'INVALID_OPERATION');
    expect(hit.details.allowed).toEqual(expect.arrayContaining(['trim', 'watermark', 'thumbnail_grid']));
    expect(hit.details.value).toBe('explode');
  });

  it('suggests the closest operation type for a misspelling', () => {
    expect(expectIssue('convert', convert([{ type: 'trimm' }]), 'operations[0].type', 'INVALID_OPERATION').details.suggestion).toBe("did you mean 'trim'?");
    expect(expectIssue('convert', convert([{ type: 'watermrak' }]), 'operations[0].type', 'INVALID_OPERATION').details.suggestion).toBe("did you mean 'watermark'?");
  });

  it('refuses an operation without a type, naming operations[i].type', () => {
    expectIssue('convert', convert([{ type: 'trim', start: 1 }, { start: 1 }]), 'operations[1].type', 'INVALID_OPERATION');
  });

  it.each([
    ['rotate', { degrees: 45 }, 'operations[0].degrees'],
    ['flip', { direction: 'diagonal' }, 'operations[0].direction'],
    ['fade', { direction: 'sideways', duration: 1 }, 'operations[0].direction'],
    ['denoise', { strength: 'extreme' }, 'operations[0].strength'],
    ['watermark', { image: '/storage/l.png', position: 'middle' }, 'operations[0].position'],
    ['thumbnail', { timestamp: 1, quality: 'ultra' }, 'operations[0].quality'],
    ['crop', { height: 100 }, 'operations[0].width'],
    ['trim', {}, 'operations[0]'],
    ['resize', {}, 'operations[0]'],
  ])('refuses an invalid "%s" operation %j, naming %s', (type, fields, field) => {
    const output = type === 'thumbnail' ? '/storage/t.jpg' : OUT;
    expectIssue('convert', convert([{ type, ...fields }], output), field, 'INVALID_OPERATION');
  });
});

describe('normalizeRequest: out-of-range numbers', () => {
  const video = (v: Record<string, unknown>) => ({ input: IN, output: { path: OUT, video: v } });
  const audio = (a: Record<string, unknown>) => ({ input: IN, output: { path: OUT, audio: a } });
  const op = (type: string, params: Record<string, unknown>, output = OUT) => convert([{ type: 'trim', start: 0 }, { type, params }], output);

  it.each([
    ['crf 99', video({ crf: 99 }), 'output.video.crf'],
    ['crf -1', video({ crf: -1 }), 'output.video.crf'],
    ['crf 22.5', video({ crf: 22.5 }), 'output.video.crf'],
    ['width 100000', video({ width: 100_000 }), 'output.video.width'],
    ['width 1', video({ width: 1 }), 'output.video.width'],
    ['width 1e308', video({ width: 1e308 }), 'output.video.width'],
    ['height -720', video({ height: -720 }), 'output.video.height'],
    ['width NaN', video({ width: Number.NaN }), 'output.video.width'],
    ['width 1280.5', video({ width: 1280.5 }), 'output.video.width'],
    ['fps 1000', video({ fps: 1000 }), 'output.video.fps'],
    ['fps 0', video({ fps: 0 }), 'output.video.fps'],
    ['fps Infinity', video({ fps: Number.POSITIVE_INFINITY }), 'output.video.fps'],
    ['video bitrate 1e308', video({ bitrate: 1e308 }), 'output.video.bitrate'],
    ['channels 0', audio({ channels: 0 }), 'output.audio.channels'],
    ['channels 9', audio({ channels: 9 }), 'output.audio.channels'],
    ['sample_rate 12345', audio({ sample_rate: 12345 }), 'output.audio.sample_rate'],
  ])('refuses output %s with INVALID_OUTPUT at %s', (_what, body, field) => {
    const hit = expectIssue('convert', body, field, 'INVALID_OUTPUT');
    expect(hit.details, 'the offending value must be echoed back').toHaveProperty('value');
  });

  it.each([
    ['trim start 1e308', op('trim', { start: 1e308 }), 'operations[1].params.start'],
    ['trim start -5', op('trim', { start: -5 }), 'operations[1].params.start'],
    ['trim duration 0', op('trim', { duration: 0 }), 'operations[1].params.duration'],
    ['trim start "1e308"', op('trim', { start: '1e308' }), 'operations[1].params.start'],
    ['trim start "NaN"', op('trim', { start: 'NaN' }), 'operations[1].params.start'],
    ['trim start "Infinity"', op('trim', { start: 'Infinity' }), 'operations[1].params.start'],
    ['trim start 8 days', op('trim', { start: 8 * 24 * 3600 }), 'operations[1].params.start'],
    ['speed 0', op('speed', { factor: 0 }), 'operations[1].params.factor'],
    ['speed 10', op('speed', { factor: 10 }), 'operations[1].params.factor'],
    ['fps 1000', op('fps', { fps: 1000 }), 'operations[1].params.fps'],
    ['fps -30', op('fps', { fps: -30 }), 'operations[1].params.fps'],
    ['opacity 1.5', op('watermark', { image: '/storage/l.png', opacity: 1.5 }), 'operations[1].params.opacity'],
    ['opacity -0.1', op('watermark', { image: '/storage/l.png', opacity: -0.1 }), 'operations[1].params.opacity'],
    ['scale 0', op('watermark', { image: '/storage/l.png', scale: 0 }), 'operations[1].params.scale'],
    ['margin 5000', op('watermark', { image: '/storage/l.png', margin: 5000 }), 'operations[1].params.margin'],
    ['margin -1', op('watermark', { image: '/storage/l.png', margin: -1 }), 'operations[1].params.margin'],
    ['sharpen -1', op('sharpen', { amount: -1 }), 'operations[1].params.amount'],
    ['blur 0', op('blur', { sigma: 0 }), 'operations[1].params.sigma'],
    ['blur 1e308', op('blur', { sigma: 1e308 }), 'operations[1].params.sigma'],
    ['brightness 2', op('color', { brightness: 2 }), 'operations[1].params.brightness'],
    ['gamma 0', op('color', { gamma: 0 }), 'operations[1].params.gamma'],
    ['rotate 360', op('rotate', { degrees: 360 }), 'operations[1].params.degrees'],
    ['rotate 90.5', op('rotate', { degrees: 90.5 }), 'operations[1].params.degrees'],
    ['crop width 100000', op('crop', { width: 100_000, height: 10 }), 'operations[1].params.width'],
    ['crop x -1', op('crop', { width: 10, height: 10, x: -1 }), 'operations[1].params.x'],
    ['scale width 100000', op('scale', { width: 100_000 }), 'operations[1].params.width'],
    ['fade duration 0', op('fade', { direction: 'in', duration: 0 }), 'operations[1].params.duration'],
    ['crf 99 in transcode', op('transcode', { crf: 99 }), 'operations[1].params.crf'],
  ])('refuses operation %s with INVALID_OPERATION at %s', (_what, body, field) => {
    expectIssue('convert', body, field, 'INVALID_OPERATION');
  });

  it('blames only the bad thumbnail_grid parameter, not the folder output it writes into', () => {
    const err = reject('convert', convert([{ type: 'thumbnail_grid', params: { rows: 50 } }], '/storage/grid/'));
    expect(err.issues.map((i) => i.details.field), `a dropped grid must not make the folder output look wrong: ${show(err.issues)}`).toEqual([
      'operations[0].params.rows',
    ]);
  });

  it.each([
    ['thumbnail count 101', [{ type: 'thumbnail', params: { count: 101 } }], 'operations[0].params.count'],
    ['thumbnail width 100000', [{ type: 'thumbnail', params: { timestamp: 1, width: 100_000 } }], 'operations[0].params.width'],
    ['thumbnail timestamp -1', [{ type: 'thumbnail', params: { timestamp: -1 } }], 'operations[0].params.timestamp'],
    ['grid rows 21', [{ type: 'thumbnail_grid', params: { rows: 21 } }], 'operations[0].params.rows'],
    ['grid cols 0', [{ type: 'thumbnail_grid', params: { cols: 0 } }], 'operations[0].params.cols'],
  ])('refuses %s with INVALID_OPERATION at %s', (_what, ops, field) => {
    expectIssue('convert', convert(ops, '/storage/thumbs/'), field, 'INVALID_OPERATION');
  });

  it.each([
    ['segment_duration 0', { segment_duration: 0 }, 'segment_duration'],
    ['segment_duration -1', { segment_duration: -1 }, 'segment_duration'],
    ['segment_duration 61', { segment_duration: 61 }, 'segment_duration'],
    ['segment_duration 1e308', { segment_duration: 1e308 }, 'segment_duration'],
    ['audio_bitrate 10M', { audio_bitrate: '10M' }, 'audio_bitrate'],
    ['11 variants', { variants: Array.from({ length: 11 }, (_, i) => ({ width: 100 + 2 * i, height: 100, bitrate: '1M' })) }, 'variants'],
  ])('refuses stream %s at %s', (_what, extra, field) => {
    expectIssue('stream', { input: IN, output: '/storage/out/hls', ...extra }, field, 'INVALID_OUTPUT');
  });

  it.each([
    ['timeout 0', { timeout: 0 }, 'options.timeout'],
    ['timeout_seconds 1e308', { timeout_seconds: 1e308 }, 'options.timeout_seconds'],
  ])('refuses option %s at %s', (_what, options, field) => {
    expectIssue('convert', { input: IN, output: OUT, options }, field, 'INVALID_REQUEST');
  });

  it(`refuses more than ${Limits.maxOperations} operations`, () => {
    const ops = Array.from({ length: Limits.maxOperations + 1 }, () => ({ type: 'deinterlace' }));
    expectIssue('convert', convert(ops), 'operations', 'INVALID_OPERATION');
  });

  it.each([
    ['duration', 'trim', { duration: 0.01 }, '/storage/o.mp4'],
    ['interval', 'thumbnail', { interval: 0.04 }, '/storage/thumbs/'],
  ])('accepts the schema minimum for %s the same whether written as a number or a string', (key, type, params, output) => {
    const asString = { [key]: String(params[key as keyof typeof params]) };
    const fromString = accept('convert', convert([{ type, params: asString }], output));
    const fromNumber = accept('convert', convert([{ type, params }], output));
    expect(fromNumber, `${key} given as a number must be read like the same value given as a string`).toEqual(fromString);
  });
});

describe('normalizeRequest: codec and container rules', () => {
  it('refuses vp9 in mp4 with the reference\'s error: message, field, value, allowed codecs and suggestion', () => {
    const err = reject('convert', { input: IN, output: { path: OUT, video: { codec: 'vp9' } } });
    const hit = issueAt(err, 'output.video.codec');
    expect(hit.code).toBe('INVALID_CODEC_FORMAT');
    expect(hit.message).toBe("Codec 'vp9' is incompatible with format 'mp4'");
    expect(hit.details.value).toBe('vp9');
    expect(hit.details.allowed).toEqual(expect.arrayContaining(['h264', 'h265']));
    expect(hit.details.allowed).not.toContain('vp9');
    expect(hit.details.suggestion).toMatch(/'webm'/);
    expect(hit.details.suggestion).toMatch(/change codec to 'h264'/);
  });

  it.each([
    ['opus in mov', { path: '/storage/o.mov', audio: { codec: 'opus' } }, 'output.audio.codec', 'INVALID_CODEC_FORMAT', "Codec 'opus' is incompatible with format 'mov'"],
    ['h264 in webm', { path: '/storage/o.webm', video: { codec: 'h264' } }, 'output.video.codec', 'INVALID_CODEC_FORMAT', "Codec 'h264' is incompatible with format 'webm'"],
    ['aac in webm', { path: '/storage/o.webm', audio: { codec: 'aac' } }, 'output.audio.codec', 'INVALID_CODEC_FORMAT', "Codec 'aac' is incompatible with format 'webm'"],
    ['video settings on mp3', { path: '/storage/o.mp3', video: { codec: 'h264' } }, 'output.video', 'INVALID_OUTPUT', "'mp3' is an audio-only format and has no video"],
    ['a resolution on mp3', { path: '/storage/o.mp3', video: { resolution: '720p' } }, 'output.video', 'INVALID_OUTPUT', "'mp3' is an audio-only format and has no video"],
    ['audio on gif', { path: '/storage/o.gif', audio: { codec: 'aac' } }, 'output.audio', 'INVALID_OUTPUT', "'gif' cannot hold audio"],
    ['h265 profile high', { path: OUT, video: { codec: 'h265', profile: 'high' } }, 'output.video.profile', 'CODEC_MISMATCH', "'high' is not a h265 profile"],
    ['crf and bitrate together', { path: OUT, video: { crf: 23, bitrate: '5M' } }, 'output.video.crf', 'INVALID_OUTPUT', 'give crf or bitrate, not both'],
    ['crf 60 for h264', { path: OUT, video: { codec: 'h264', crf: 60 } }, 'output.video.crf', 'CODEC_MISMATCH', 'must be at most 51 for h264'],
    ['copy with a resolution', { path: OUT, video: { codec: 'copy', width: 1280 } }, 'output.video.width', 'CODEC_MISMATCH', "cannot be set when the video codec is 'copy'"],
    ['a bitrate for pcm', { path: '/storage/o.wav', audio: { bitrate: '192k' } }, 'output.audio.bitrate', 'CODEC_MISMATCH', 'pcm is lossless; bitrate does not apply'],
  ])('refuses %s with the right code and field', (_what, output, field, code, message) => {
    const hit = expectIssue('convert', { input: IN, output }, field, code as ErrorCode);
    expect(hit.message).toBe(message);
  });

  it('refuses the copy video codec together with a filter operation, naming the operation', () => {
    const hit = expectIssue('convert', convert([{ type: 'scale', width: 640 }], { path: OUT, video: { codec: 'copy' } }), 'operations[0].type', 'CODEC_MISMATCH');
    expect(hit.details.value).toBe('scale');
    expect(hit.details.suggestion).toContain('h264');
  });

  it('accepts the copy codec with a trim, which needs no re-encoding', () => {
    const spec = accept('convert', convert([{ type: 'trim', start: 5, duration: 10 }], { path: OUT, video: { codec: 'copy' }, audio: { codec: 'copy' } }));
    expect(spec.output?.video).toEqual({ codec: 'copy' });
  });

  it('refuses duplicate variant names, naming the second variant', () => {
    const hit = expectIssue('stream', {
      input: IN,
      output: '/storage/out/hls',
      variants: [
        { resolution: '720p', bitrate: '2M' },
        { resolution: '1280x720', bitrate: '3M', name: '720p' },
      ],
    }, 'variants[1].name', 'INVALID_OUTPUT');
    expect(hit.details.value).toBe('720p');
  });

  it('refuses a thumbnail with both count and timestamp', () => {
    expectIssue('convert', convert([{ type: 'thumbnail', params: { count: 5, timestamp: 3 } }], '/storage/thumbs/'), 'operations[0]', 'INVALID_OPERATION');
  });

  it('refuses a trim whose end is before its start', () => {
    const hit = expectIssue('convert', convert([{ type: 'trim', start: 30, end: 10 }]), 'operations[0].end', 'INVALID_OPERATION');
    expect(hit.details.value).toBe(10);
  });

  it.each([
    ['convert', { input: IN, output: IN }, 'output.path'],
    ['convert', { input: IN, output: { path: '/storage//input/video.mp4' } }, 'output.path'],
    ['stream', { input: IN, output: IN }, 'output'],
    ['analyze', { input: IN, reference: '/storage/ref.mp4', output: IN }, 'output'],
  ] as const)('refuses a %s whose output is the input (%j)', (kind, body, field) => {
    expectIssue(kind, body, field, 'INVALID_OUTPUT');
  });

  it('refuses an analyze report written over the reference video', () => {
    expectIssue('analyze', { input: IN, reference: '/storage/ref.mp4', output: '/storage/ref.mp4' }, 'output', 'INVALID_OUTPUT');
  });

  it('refuses a watermark image that is also the output path', () => {
    expectIssue('convert', convert([{ type: 'watermark', image: OUT }]), 'output.path', 'INVALID_OUTPUT');
  });

  it('refuses thumbnails written into a video container', () => {
    const hit = expectIssue('convert', convert([{ type: 'thumbnail', timestamp: 3 }], 'mp4'), 'output.format', 'INVALID_OUTPUT');
    expect(hit.details.allowed).toEqual(['jpg', 'png', 'webp']);
  });

  it('refuses an image container without a thumbnail operation', () => {
    expectIssue('convert', { input: IN, output: '/storage/still.png' }, 'output.format', 'INVALID_OUTPUT');
  });
});

describe('normalizeRequest: semantic errors name the field the client wrote', () => {
  it('names the transcode parameter that chose a codec the container cannot hold', () => {
    const body = {
      input: '/storage/video2.avi',
      output: '/storage/output2.mp4',
      operations: [{ type: 'transcode', params: { video_codec: 'vp9' } }],
    };
    const err = reject('convert', body);
    expect(err.first.code).toBe('INVALID_CODEC_FORMAT');
    expect(err.first.details.field, 'the client never wrote output.video.codec').toBe('operations[0].params.video_codec');
  });

  it('counts operations by their position in the request, not in the canonical list (a transcode adds none)', () => {
    const body = convert([
      { type: 'transcode', params: { preset: 'fast' } },
      { type: 'trim', start: 30, end: 10 },
    ]);
    expectIssue('convert', body, 'operations[1].end', 'INVALID_OPERATION');
  });

  it('counts operations by their position in the request when an earlier filter expands to several', () => {
    const body = convert([
      { type: 'filter', brightness: 0.1, sharpen: 1 },
      { type: 'trim', start: 30, end: 10 },
    ]);
    expectIssue('convert', body, 'operations[1].end', 'INVALID_OPERATION');
  });

  it('names the request index of a video operation refused by an audio-only format', () => {
    const body = convert([{ type: 'transcode', params: { audio_codec: 'mp3' } }, { type: 'scale', width: 640 }], '/storage/o.mp3');
    expectIssue('convert', body, 'operations[1].type', 'INVALID_OPERATION');
  });

  it.each([
    [{ video: { codec: 'copy', pixel_format: 'yuv420p' } }, 'output.video.pixel_format'],
    [{ audio: { codec: 'copy', sample_rate: 48000 } }, 'output.audio.sample_rate'],
  ])('names the request key (snake_case), not the canonical one, for a setting refused with copy: %j', (settings, field) => {
    expectIssue('convert', { input: IN, output: { path: '/storage/o.mkv', ...settings } }, field, 'CODEC_MISMATCH');
  });
});

describe('normalizeRequest: every problem at once', () => {
  it('lists every structural problem of one request in a single SpecError', () => {
    const err = reject('convert', {
      input: '/etc/passwd',
      output: { path: OUT, video: { crf: '23', fps: 1000 }, audio: { channels: 0 } },
      operations: [
        { type: 'trim', start: -1 },
        { type: 'watermark', params: { image: '/storage/l.png', opacity: 2 } },
        { type: 'explode' },
      ],
      options: { webhook_url: 'ftp://x' },
      colour: 'red',
    });
    expect(err.issues.map((i) => `${i.details.field}:${i.code}`).sort()).toEqual(
      [
        'colour:INVALID_REQUEST',
        'input:INVALID_INPUT',
        'operations[0].start:INVALID_OPERATION',
        'operations[1].params.opacity:INVALID_OPERATION',
        'operations[2].type:INVALID_OPERATION',
        'output.video.crf:INVALID_OUTPUT',
        'output.video.fps:INVALID_OUTPUT',
        'output.audio.channels:INVALID_OUTPUT',
        'options.webhook_url:INVALID_REQUEST',
      ].sort(),
    );
  });

  it('lists every semantic problem at once (video and audio codec both wrong for mov)', () => {
    const err = reject('convert', { input: IN, output: { path: '/storage/o.mov', video: { codec: 'vp9' }, audio: { codec: 'opus' } } });
    expect(err.issues.map((i) => [i.details.field, i.code])).toEqual([
      ['output.video.codec', 'INVALID_CODEC_FORMAT'],
      ['output.audio.codec', 'INVALID_CODEC_FORMAT'],
    ]);
  });

  it('lists every bad stream variant at once', () => {
    const err = reject('stream', {
      input: IN,
      output: '/storage/out/hls',
      segment_duration: 0,
      variants: [{ resolution: 'huge', bitrate: '1M' }, { resolution: '720p', bitrate: 'x' }, { resolution: '480p', bitrate: '1M', name: 'a b' }],
    });
    expect(err.issues.map((i) => i.details.field).sort()).toEqual(
      ['segment_duration', 'variants[0].resolution', 'variants[1].bitrate', 'variants[2].name'].sort(),
    );
  });

  it('builds its message from every issue and exposes the first one', () => {
    const err = reject('convert', {});
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('SpecError');
    expect(err.message).toContain('input: is required');
    expect(err.message).toContain('output: is required');
    expect(err.first).toBe(err.issues[0]);
  });

  it('only ever uses the reference\'s error codes', () => {
    const bodies: [RequestKind, unknown][] = [
      ['convert', {}],
      ['convert', { input: IN, output: { path: OUT, video: { codec: 'vp9', crf: 99 } } }],
      ['stream', { input: 1, output: 2, variants: 3 }],
      ['analyze', { input: IN, metrics: 'x' }],
    ];
    for (const [kind, body] of bodies) {
      for (const i of reject(kind, body).issues) expect(ErrorCodes, `${i.details.field}: ${i.message}`).toContain(i.code);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Security: filter injection and hostile paths
// ---------------------------------------------------------------------------------------------

const injections = ['0.1,drawtext=textfile=/etc/passwd', '1:a=1[x];[x]', 'bottom-right;movie=/etc/passwd'];

interface Target {
  field: string;
  code: ErrorCode;
  kind: RequestKind;
  body: (inj: string) => unknown;
}

const opTarget = (type: string, key: string, base: Record<string, unknown> = {}, output: unknown = OUT, code: ErrorCode = 'INVALID_OPERATION'): Target => ({
  field: `operations[0].params.${key}`,
  code,
  kind: 'convert',
  body: (inj) => convert([{ type, params: { ...base, [key]: inj } }], output),
});
const flatOpTarget = (type: string, key: string, base: Record<string, unknown> = {}): Target => ({
  field: `operations[0].${key}`,
  code: 'INVALID_OPERATION',
  kind: 'convert',
  body: (inj) => convert([{ type, ...base, [key]: inj }]),
});
const outputTarget = (group: 'video' | 'audio', key: string, code: ErrorCode = 'INVALID_OUTPUT', path = '/storage/o.mkv'): Target => ({
  field: `output.${group}.${key}`,
  code,
  kind: 'convert',
  body: (inj) => ({ input: IN, output: { path, [group]: { [key]: inj } } }),
});
const streamTarget = (field: string, body: (inj: string) => Record<string, unknown>, code: ErrorCode = 'INVALID_OUTPUT'): Target => ({
  field,
  code,
  kind: 'stream',
  body: (inj) => ({ input: IN, output: '/storage/out/hls', ...body(inj) }),
});

const wm = { image: '/storage/logo.png' };
const targets: Target[] = [
  opTarget('color', 'brightness'),
  flatOpTarget('color', 'contrast'),
  opTarget('color', 'saturation'),
  opTarget('adjust', 'gamma'),
  opTarget('sharpen', 'amount'),
  opTarget('filter', 'sharpen'),
  opTarget('blur', 'sigma'),
  flatOpTarget('filter', 'blur'),
  opTarget('filter', 'denoise'),
  opTarget('denoise', 'strength'),
  opTarget('watermark', 'opacity', wm),
  opTarget('watermark', 'scale', wm),
  opTarget('watermark', 'position', wm),
  flatOpTarget('watermark', 'position', wm),
  opTarget('watermark', 'margin', wm),
  opTarget('fps', 'fps'),
  opTarget('framerate', 'rate'),
  opTarget('speed', 'factor'),
  opTarget('crop', 'x', { width: 10, height: 10 }),
  opTarget('crop', 'y', { width: 10, height: 10 }),
  opTarget('crop', 'width', { height: 10 }),
  opTarget('crop', 'height', { width: 10 }),
  opTarget('rotate', 'degrees'),
  opTarget('flip', 'direction'),
  opTarget('fade', 'duration', { direction: 'in' }),
  opTarget('fade', 'direction', { duration: 1 }),
  opTarget('filter', 'fade_in'),
  opTarget('filter', 'fade_out'),
  opTarget('trim', 'start'),
  flatOpTarget('trim', 'start'),
  opTarget('trim', 'duration'),
  opTarget('trim', 'end'),
  opTarget('resize', 'resolution'),
  opTarget('scale', 'width', { height: 720 }),
  opTarget('thumbnail', 'timestamp', {}, '/storage/t.jpg'),
  opTarget('thumbnail', 'time', {}, '/storage/t.jpg'),
  opTarget('thumbnail', 'width', { timestamp: 1 }, '/storage/t.jpg'),
  opTarget('thumbnail', 'height', { timestamp: 1 }, '/storage/t.jpg'),
  opTarget('thumbnail', 'quality', { timestamp: 1 }, '/storage/t.jpg'),
  opTarget('thumbnail', 'count', {}, '/storage/thumbs/'),
  opTarget('thumbnail', 'interval', {}, '/storage/thumbs/'),
  opTarget('thumbnail_grid', 'rows', {}, '/storage/grid.jpg'),
  opTarget('thumbnail_grid', 'cols', {}, '/storage/grid.jpg'),
  opTarget('thumbnail_grid', 'width', {}, '/storage/grid.jpg'),
  opTarget('thumbnail_grid', 'height', {}, '/storage/grid.jpg'),
  opTarget('transcode', 'video_codec', {}, OUT, 'INVALID_CODEC_FORMAT'),
  opTarget('transcode', 'audio_codec', {}, OUT, 'INVALID_CODEC_FORMAT'),
  opTarget('transcode', 'video_bitrate'),
  opTarget('transcode', 'audio_bitrate'),
  opTarget('transcode', 'preset'),
  opTarget('transcode', 'crf'),
  opTarget('transcode', 'resolution'),
  opTarget('transcode', 'fps'),
  opTarget('transcode', 'pixel_format'),
  opTarget('transcode', 'profile'),
  opTarget('transcode', 'channels'),
  opTarget('transcode', 'sample_rate'),
  outputTarget('video', 'codec', 'INVALID_CODEC_FORMAT'),
  outputTarget('video', 'preset'),
  outputTarget('video', 'crf'),
  outputTarget('video', 'bitrate'),
  outputTarget('video', 'resolution'),
  outputTarget('video', 'width'),
  outputTarget('video', 'height'),
  outputTarget('video', 'fps'),
  outputTarget('video', 'pixel_format'),
  outputTarget('video', 'profile'),
  outputTarget('audio', 'codec', 'INVALID_CODEC_FORMAT'),
  outputTarget('audio', 'bitrate'),
  outputTarget('audio', 'channels'),
  outputTarget('audio', 'sample_rate'),
  outputTarget('audio', 'normalize'),
  { field: 'output.format', code: 'INVALID_OUTPUT', kind: 'convert', body: (inj) => ({ input: IN, output: { path: OUT, format: inj } }) },
  { field: 'output', code: 'INVALID_OUTPUT', kind: 'convert', body: (inj) => ({ input: IN, output: inj }) },
  streamTarget('variants[0].name', (inj) => ({ variants: [{ resolution: '720p', bitrate: '1M', name: inj }] })),
  streamTarget('variants[0].resolution', (inj) => ({ variants: [{ resolution: inj, bitrate: '1M' }] })),
  streamTarget('variants[0].bitrate', (inj) => ({ variants: [{ resolution: '720p', bitrate: inj }] })),
  streamTarget('variants[0].width', (inj) => ({ variants: [{ resolution: '720p', width: inj, bitrate: '1M' }] })),
  streamTarget('segment_duration', (inj) => ({ segment_duration: inj })),
  streamTarget('audio_bitrate', (inj) => ({ audio_bitrate: inj })),
  streamTarget('video_codec', (inj) => ({ video_codec: inj }), 'INVALID_CODEC_FORMAT'),
  streamTarget('type', (inj) => ({ type: inj })),
  { field: 'metrics[0]', code: 'INVALID_REQUEST', kind: 'analyze', body: (inj) => ({ input: IN, reference: '/storage/ref.mp4', metrics: [inj] }) },
  { field: 'options.priority', code: 'INVALID_REQUEST', kind: 'convert', body: (inj) => ({ input: IN, output: OUT, options: { priority: inj } }) },
  { field: 'options.hardware_acceleration', code: 'INVALID_REQUEST', kind: 'convert', body: (inj) => ({ input: IN, output: OUT, options: { hardware_acceleration: inj } }) },
];

describe('normalizeRequest: filter injection', () => {
  const cases = targets.flatMap((t) => injections.map((inj) => ({ ...t, inj })));
  it.each(cases)('refuses $inj in $field with $code and names only that field', ({ kind, field, code, body, inj }) => {
    const err = reject(kind, body(inj));
    const hit = issueAt(err, field);
    expect(hit.code, `wrong code at ${field}: ${hit.message}`).toBe(code);
    expect(err.issues.map((i) => i.details.field), `the only issue must be at ${field}: ${show(err.issues)}`).toEqual([field]);
    expect(hit.details.value, `the refused value at ${field} must be echoed back`).toEqual(inj);
  });
});

interface PathTarget {
  field: string;
  code: ErrorCode;
  kind: RequestKind;
  body: (p: string) => unknown;
}

const pathTargets: PathTarget[] = [
  { field: 'input', code: 'INVALID_INPUT', kind: 'convert', body: (p) => ({ input: p, output: OUT }) },
  { field: 'input.path', code: 'INVALID_INPUT', kind: 'convert', body: (p) => ({ input: { path: p, credentials: 'presigned' }, output: OUT }) },
  { field: 'output', code: 'INVALID_OUTPUT', kind: 'convert', body: (p) => ({ input: IN, output: p }) },
  { field: 'output.path', code: 'INVALID_OUTPUT', kind: 'convert', body: (p) => ({ input: IN, output: { path: p } }) },
  { field: 'operations[0].image', code: 'INVALID_OPERATION', kind: 'convert', body: (p) => convert([{ type: 'watermark', image: p }]) },
  { field: 'operations[0].params.watermark_path', code: 'INVALID_OPERATION', kind: 'convert', body: (p) => convert([{ type: 'watermark', params: { watermark_path: p } }]) },
  { field: 'input', code: 'INVALID_INPUT', kind: 'stream', body: (p) => ({ input: p, output: '/storage/out/hls' }) },
  { field: 'output', code: 'INVALID_OUTPUT', kind: 'stream', body: (p) => ({ input: IN, output: p }) },
  { field: 'output.path', code: 'INVALID_OUTPUT', kind: 'stream', body: (p) => ({ input: IN, output: { path: p } }) },
  { field: 'input', code: 'INVALID_INPUT', kind: 'analyze', body: (p) => ({ input: p, reference: '/storage/ref.mp4' }) },
  { field: 'reference', code: 'INVALID_INPUT', kind: 'analyze', body: (p) => ({ input: IN, reference: p }) },
  { field: 'output', code: 'INVALID_OUTPUT', kind: 'analyze', body: (p) => ({ input: IN, reference: '/storage/ref.mp4', output: p }) },
];

const hostilePaths = [
  '../etc/passwd',
  '/storage/../etc/passwd',
  '/storage/input/../../etc/passwd',
  '/storage/./input/video.mp4',
  '/storage/input/..',
  '/etc/passwd',
  'file:/etc/passwd',
  'file:///storage/input/video.mp4',
  's3://b/k',
  's3://Bad_Bucket/k.mp4',
  's3://bucket/',
  's3://bucket',
  's3://bucket/../etc/passwd',
  's3://bucket//x.mp4',
  's3://bucket/a\n.mp4',
  'ftp://example.com/video.mp4',
  'gopher://127.0.0.1:25/x',
  'http://user:secret@example.com/video.mp4',
  'http://exa mple.com/x.mp4',
  'https://',
  'concat:/storage/a|/storage/b',
  'subfile,,start,0,end,10,,:/storage/a',
  'pipe:0',
  '/storage/a\u0000.mp4',
  '/storage/a\n.mp4',
  '/storage/a\r.m3u8',
  '/storage/out%03d.mp4',
  '/storage/%2e%2e/etc/passwd',
  '/storage/',
  '/storage//',
  '/storage',
  'storage/input/video.mp4',
  '',
  `/storage/${'a'.repeat(1100)}.mp4`,
];

describe('normalizeRequest: hostile paths', () => {
  const cases = pathTargets.flatMap((t) => hostilePaths.map((p) => ({ ...t, path: p, shown: JSON.stringify(p).slice(0, 60) })));
  it.each(cases)('refuses the path $shown in the $kind field $field', ({ kind, field, code, body, path }) => {
    const err = reject(kind, body(path));
    const hit = issueAt(err, field);
    expect(hit.code, `wrong code at ${field}: ${hit.message}`).toBe(code);
  });

  it.each(pathTargets.map((t) => [t.field, t.kind, t]))('accepts a plain storage path in %s (%s)', (_field, _kind, t) => {
    // The same scaffold with a good path must pass, so the refusals above are about the path alone.
    const good = t.field.startsWith('operations') ? '/storage/assets/logo.png' : t.field.startsWith('output') ? (t.kind === 'convert' ? '/storage/output/clip.mp4' : '/storage/output/dir') : '/storage/input/other.mp4';
    expect(() => accept(t.kind, t.body(good))).not.toThrow();
  });

  it('explains an unsupported URL scheme and suggests uploading the file', () => {
    const hit = expectIssue('convert', { input: 'ftp://127.0.0.1/x', output: OUT }, 'input', 'INVALID_INPUT');
    expect(hit.message).toContain("'ftp:'");
    expect(hit.details.suggestion).toMatch(/\/storage\//);
    expect(hit.details.value).toBe('ftp://127.0.0.1/x');
  });

  // Outputs are written, never fetched: a URL is no place to write to.
  const outputTargets = pathTargets.filter((t) => t.field.startsWith('output'));
  it.each(outputTargets.flatMap((t) => ['http://127.0.0.1/x.mp4', 'https://example.com/out/'].map((p) => ({ ...t, path: p }))))('refuses the URL $path as the $kind field $field', ({ kind, field, code, body, path }) => {
    const hit = expectIssue(kind, body(path), field, code);
    expect(hit.message).toContain('outputs cannot be URLs');
  });

  // Whether a URL's host is private is decided by the storage layer (it needs DNS): here a URL is
  // only checked for its form, and kept exactly as written (a presigned URL's signature covers it).
  const inputTargets = pathTargets.filter((t) => !t.field.startsWith('output'));
  it.each(inputTargets.flatMap((t) => ['https://media.example.com/in/video.mp4?X-Amz-Signature=abc%2Fdef', 's3://media-bucket/in/video.mp4'].map((p) => ({ ...t, path: p }))))('accepts $path as the $kind field $field, unchanged', ({ kind, body, path }) => {
    expect(JSON.stringify(accept(kind, body(path)))).toContain(JSON.stringify(path).slice(1, -1));
  });
});
