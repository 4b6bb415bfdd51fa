// validateSpec holds the semantic rules that need the whole canonical spec: which codecs each
// container can hold, settings that contradict each other, and operations that cannot be combined.
// These tests feed it canonical specs directly, so each rule is pinned apart from the normalizer.
import Value from 'typebox/value';
import { describe, it, expect } from 'vitest';
import { validateSpec } from '../../crds/src/validate.ts';
import { ErrorCodes, type SpecIssue } from '../../crds/src/errors.ts';
import {
  MediaJobSpec,
  type AudioSettings,
  type Container,
  type JobOptions,
  type Operation,
  type OutputSpec,
  type StreamSpec,
  type Variant,
  type VideoSettings,
} from '../../crds/src/spec.ts';

const IN = '/storage/input/video.mp4';
const options: JobOptions = { priority: 'normal', hardwareAcceleration: 'auto' };

function out(format: Container, settings: { video?: VideoSettings; audio?: AudioSettings; path?: string } = {}): OutputSpec {
  const { path = `/storage/output/result.${format}`, ...rest } = settings;
  return { path, format, ...rest };
}

function convertSpec(output: OutputSpec, operations: Operation[] = []): MediaJobSpec {
  return { type: 'convert', input: { path: IN }, output, operations, options };
}

function streamSpec(variants: Variant[], overrides: Partial<StreamSpec> = {}, input = IN): MediaJobSpec {
  const stream: StreamSpec = { format: 'hls', path: '/storage/out/hls', segmentDuration: 6, videoCodec: 'h264', audioBitrate: 128_000, variants, ...overrides };
  return { type: 'stream', input: { path: input }, operations: [], stream, options };
}

function analyzeSpec(path?: string, reference = '/storage/ref.mp4'): MediaJobSpec {
  return { type: 'analyze', input: { path: IN }, operations: [], analyze: { reference, metrics: ['vmaf'], ...(path ? { path } : {}) }, options };
}

const allIssues: SpecIssue[] = [];

/** Validates a spec that is well-formed for the schema, so only the semantic rules are exercised. */
function check(spec: MediaJobSpec): SpecIssue[] {
  const schemaErrors = Value.Errors(MediaJobSpec, spec).map((e) => `${e.instancePath}: ${e.message}`);
  expect(schemaErrors, `the test spec must satisfy the canonical schema: ${JSON.stringify(spec)}`).toEqual([]);
  const issues = validateSpec(spec);
  allIssues.push(...issues);
  return issues;
}

function show(issues: readonly SpecIssue[]): string {
  return issues.map((i) => `${i.details.field} [${i.code}]: ${i.message}`).join('; ') || '(no issues)';
}

function fields(issues: readonly SpecIssue[]): string[] {
  return issues.map((i) => `${i.details.field}:${i.code}`);
}

/** The single issue at `field`; fails listing all issues when there is none. */
function at(issues: readonly SpecIssue[], field: string): SpecIssue {
  const hit = issues.find((i) => i.details.field === field);
  if (!hit) throw new Error(`expected an issue naming '${field}', got: ${show(issues)}`);
  return hit;
}

const trim: Operation = { type: 'trim', start: 5, duration: 10 };
const thumbnail: Operation = { type: 'thumbnail', timestamp: 3, quality: 'high' };
const grid: Operation = { type: 'thumbnail_grid', rows: 3, cols: 4, width: 1280, height: 720 };
const watermark: Operation = { type: 'watermark', image: '/storage/logo.png', position: 'bottom-right', opacity: 0.8, scale: 0.15, margin: 10 };

const videoOps: Operation[] = [
  { type: 'scale', width: 1280 },
  { type: 'crop', width: 100, height: 100, x: 0, y: 0 },
  { type: 'rotate', degrees: 90 },
  { type: 'flip', direction: 'horizontal' },
  { type: 'fps', fps: 30 },
  { type: 'deinterlace' },
  { type: 'denoise', strength: 'medium' },
  { type: 'sharpen', amount: 1 },
  { type: 'blur', sigma: 2 },
  { type: 'color', brightness: 0.1 },
  watermark,
];

describe('validateSpec: valid specs', () => {
  it.each<[string, MediaJobSpec]>([
    ['h264 + aac in mp4', convertSpec(out('mp4', { video: { codec: 'h264', crf: 23, preset: 'medium' }, audio: { codec: 'aac', bitrate: 192_000 } }))],
    ['h265 + opus in mp4', convertSpec(out('mp4', { video: { codec: 'h265', profile: 'main10' }, audio: { codec: 'opus', sampleRate: '48000' } }))],
    ['av1 in mp4', convertSpec(out('mp4', { video: { codec: 'av1', crf: 63 } }))],
    ['vp9 + opus in webm', convertSpec(out('webm', { video: { codec: 'vp9', crf: 63 }, audio: { codec: 'opus' } }))],
    ['vorbis at 44.1 kHz in webm', convertSpec(out('webm', { audio: { codec: 'vorbis', sampleRate: '44100' } }))],
    ['av1 + flac in mkv', convertSpec(out('mkv', { video: { codec: 'av1' }, audio: { codec: 'flac' } }))],
    ['h265 + pcm in mov', convertSpec(out('mov', { video: { codec: 'h265' }, audio: { codec: 'pcm' } }))],
    ['h264 + mp3 in ts', convertSpec(out('ts', { video: { codec: 'h264', bitrate: 5_000_000 }, audio: { codec: 'mp3' } }))],
    ['an animated gif', convertSpec(out('gif', { video: { codec: 'gif', fps: 10, width: 320 } }))],
    ['mp3 audio extraction', convertSpec(out('mp3', { audio: { bitrate: 192_000, channels: 2, normalize: true } }), [trim])],
    ['aac in m4a', convertSpec(out('m4a', { audio: { codec: 'aac' } }))],
    ['pcm in wav', convertSpec(out('wav', { audio: { channels: 1, sampleRate: '16000' } }))],
    ['flac', convertSpec(out('flac', { audio: { codec: 'flac' } }))],
    ['opus in ogg', convertSpec(out('ogg', { audio: { codec: 'opus', sampleRate: '24000' } }))],
    ['a jpg thumbnail', convertSpec(out('jpg'), [thumbnail])],
    ['a png contact sheet', convertSpec(out('png'), [grid])],
    ['a webp thumbnail series', convertSpec(out('webp', { path: '/storage/thumbs' }), [{ type: 'thumbnail', interval: 10, quality: 'low' }])],
    ['copy video and audio with a trim', convertSpec(out('mp4', { video: { codec: 'copy' }, audio: { codec: 'copy', normalize: false } }), [trim])],
    ['every video operation in mp4', convertSpec(out('mp4'), [trim, ...videoOps, { type: 'speed', factor: 2 }, { type: 'fade', direction: 'in', duration: 1 }])],
    ['a trim with an end after its start', convertSpec(out('mp4'), [{ type: 'trim', start: 5, end: 6 }])],
    ['an HLS ladder', streamSpec([{ name: '1080p', height: 1080, bitrate: 5_000_000 }, { name: '720p', height: 720, bitrate: 2_500_000 }])],
    ['an analyze job with a report path', analyzeSpec('/storage/reports/vmaf.json')],
    ['an analyze job without a report path', analyzeSpec()],
  ])('finds nothing wrong with %s', (_what, spec) => {
    const issues = check(spec);
    expect(issues, show(issues)).toEqual([]);
  });
});

describe('validateSpec: codec and container compatibility', () => {
  it("reports vp9 in mp4 the way the reference does: INVALID_CODEC_FORMAT at output.video.codec", () => {
    const issues = check(convertSpec(out('mp4', { video: { codec: 'vp9' } })));
    expect(issues).toHaveLength(1);
    const hit = at(issues, 'output.video.codec');
    expect(hit.code).toBe('INVALID_CODEC_FORMAT');
    expect(hit.message).toBe("Codec 'vp9' is incompatible with format 'mp4'");
    expect(hit.details.value).toBe('vp9');
    expect(hit.details.allowed).toEqual(expect.arrayContaining(['h264', 'h265']));
    expect(hit.details.allowed).not.toContain('vp9');
    expect(hit.details.suggestion).toMatch(/^Use '.*webm.*' format or change codec to 'h264'$/);
  });

  it.each<[Container, VideoSettings['codec']]>([
    ['mp4', 'h264'], ['mp4', 'h265'], ['mp4', 'av1'], ['mp4', 'copy'],
    ['mov', 'h264'], ['mov', 'h265'],
    ['mkv', 'h264'], ['mkv', 'vp9'], ['mkv', 'av1'],
    ['webm', 'vp9'], ['webm', 'av1'],
    ['ts', 'h264'], ['ts', 'h265'],
    ['gif', 'gif'],
  ])('accepts video codec in %s: %s', (format, codec) => {
    const issues = check(convertSpec(out(format, { video: { codec } })));
    expect(issues, `${codec} belongs in ${format}: ${show(issues)}`).toEqual([]);
  });

  it.each<[Container, NonNullable<VideoSettings['codec']>, string]>([
    ['mp4', 'vp9', 'h264'],
    ['mp4', 'gif', 'h264'],
    ['mov', 'vp9', 'h264'],
    ['mov', 'av1', 'h264'],
    ['webm', 'h264', 'vp9'],
    ['webm', 'h265', 'vp9'],
    ['ts', 'vp9', 'h264'],
    ['gif', 'h264', 'gif'],
    ['gif', 'copy', 'gif'],
  ])('refuses video codec in %s: %s, suggesting %s', (format, codec, fallback) => {
    const issues = check(convertSpec(out(format, { video: { codec } })));
    const hit = at(issues, 'output.video.codec');
    expect(hit.code).toBe('INVALID_CODEC_FORMAT');
    expect(hit.message).toBe(`Codec '${codec}' is incompatible with format '${format}'`);
    expect(hit.details.value).toBe(codec);
    expect(hit.details.allowed).not.toContain(codec);
    expect(hit.details.suggestion).toContain(`change codec to '${fallback}'`);
  });

  it.each<[Container, AudioSettings['codec']]>([
    ['mp4', 'aac'], ['mp4', 'mp3'], ['mp4', 'opus'],
    ['mov', 'aac'], ['mov', 'pcm'],
    ['mkv', 'vorbis'], ['mkv', 'flac'], ['mkv', 'pcm'],
    ['webm', 'opus'], ['webm', 'vorbis'],
    ['ts', 'aac'], ['ts', 'mp3'],
    ['mp3', 'mp3'], ['mp3', 'copy'], ['m4a', 'aac'], ['wav', 'pcm'], ['flac', 'flac'], ['ogg', 'opus'], ['ogg', 'vorbis'], ['ogg', 'flac'],
  ])('accepts audio codec in %s: %s', (format, codec) => {
    const issues = check(convertSpec(out(format, { audio: { codec } })));
    expect(issues, `${codec} belongs in ${format}: ${show(issues)}`).toEqual([]);
  });

  it.each<[Container, NonNullable<AudioSettings['codec']>, string]>([
    ['mov', 'opus', 'aac'],
    ['mov', 'vorbis', 'aac'],
    ['mp4', 'vorbis', 'aac'],
    ['mp4', 'pcm', 'aac'],
    ['webm', 'aac', 'opus'],
    ['webm', 'mp3', 'opus'],
    ['ts', 'opus', 'aac'],
    ['mp3', 'aac', 'mp3'],
    ['m4a', 'opus', 'aac'],
    ['wav', 'mp3', 'pcm'],
    ['wav', 'copy', 'pcm'],
    ['flac', 'aac', 'flac'],
    ['ogg', 'aac', 'opus'],
  ])('refuses audio codec in %s: %s, suggesting %s', (format, codec, fallback) => {
    const issues = check(convertSpec(out(format, { audio: { codec } })));
    const hit = at(issues, 'output.audio.codec');
    expect(hit.code).toBe('INVALID_CODEC_FORMAT');
    expect(hit.message).toBe(`Codec '${codec}' is incompatible with format '${format}'`);
    expect(hit.details.allowed).not.toContain(codec);
    expect(hit.details.suggestion).toContain(`change codec to '${fallback}'`);
  });

  it.each<Container>(['mp3', 'm4a', 'wav', 'flac', 'ogg'])('refuses any video settings on the audio-only format %s', (format) => {
    const issues = check(convertSpec(out(format, { video: { width: 1280 } })));
    const hit = at(issues, 'output.video');
    expect(hit.code).toBe('INVALID_OUTPUT');
    expect(hit.message).toBe(`'${format}' is an audio-only format and has no video`);
    expect(hit.details.suggestion).toContain('mp4');
  });

  it('refuses audio settings on gif, which cannot hold audio', () => {
    const hit = at(check(convertSpec(out('gif', { audio: { codec: 'aac' } }))), 'output.audio');
    expect(hit.code).toBe('INVALID_OUTPUT');
    expect(hit.message).toBe("'gif' cannot hold audio");
  });

  it.each<[Container, { video?: VideoSettings; audio?: AudioSettings }, string]>([
    ['jpg', { video: { width: 640 } }, 'output.video'],
    ['png', { audio: { codec: 'aac' } }, 'output.audio'],
    ['webp', { video: { codec: 'h264' } }, 'output.video'],
  ])('refuses output settings on the image format %s (%j)', (format, settings, field) => {
    const hit = at(check(convertSpec(out(format, settings), [thumbnail])), field);
    expect(hit.code).toBe('INVALID_OUTPUT');
  });
});

describe('validateSpec: operations against the output format', () => {
  it.each(videoOps.map((op) => [op.type, op] as const))('refuses the video operation "%s" on an mp3 output', (type, op) => {
    const hit = at(check(convertSpec(out('mp3'), [op])), 'operations[0].type');
    expect(hit.code).toBe('INVALID_OPERATION');
    expect(hit.message).toBe(`'${type}' changes video, but 'mp3' is an audio-only format`);
    expect(hit.details.value).toBe(type);
  });

  it.each<Operation>([trim, { type: 'speed', factor: 1.5 }, { type: 'fade', direction: 'out', duration: 2 }])(
    'accepts the audio-compatible operation $type on an mp3 output',
    (op) => {
      const issues = check(convertSpec(out('mp3'), [op]));
      expect(issues, show(issues)).toEqual([]);
    },
  );

  it('names each offending operation by its index', () => {
    const issues = check(convertSpec(out('m4a'), [trim, { type: 'scale', width: 640 }, { type: 'speed', factor: 2 }, { type: 'blur', sigma: 1 }]));
    expect(fields(issues)).toEqual(['operations[1].type:INVALID_OPERATION', 'operations[3].type:INVALID_OPERATION']);
  });

  it.each<[Container, Operation]>([
    ['mp4', thumbnail],
    ['gif', grid],
    ['mp3', thumbnail],
  ])('refuses thumbnails written into the non-image format %s', (format, op) => {
    const hit = at(check(convertSpec(out(format), [op])), 'output.format');
    expect(hit.code).toBe('INVALID_OUTPUT');
    expect(hit.details.allowed).toEqual(['jpg', 'png', 'webp']);
    expect(hit.details.value).toBe(format);
  });

  it.each<Container>(['jpg', 'png', 'webp'])('refuses the image format %s without a thumbnail operation', (format) => {
    const hit = at(check(convertSpec(out(format))), 'output.format');
    expect(hit.code).toBe('INVALID_OUTPUT');
    expect(hit.details.suggestion).toBe("use 'mp4'");
  });
});

describe('validateSpec: the copy codec', () => {
  it.each<[keyof VideoSettings, VideoSettings]>([
    ['width', { width: 1280 }],
    ['height', { height: 720 }],
    ['fps', { fps: 30 }],
    ['crf', { crf: 23 }],
    ['bitrate', { bitrate: 5_000_000 }],
    ['preset', { preset: 'fast' }],
    ['profile', { profile: 'high' }],
  ])('refuses output.video.%s together with the copy video codec', (key, settings) => {
    const hit = at(check(convertSpec(out('mkv', { video: { codec: 'copy', ...settings } }))), `output.video.${key}`);
    expect(hit.code).toBe('CODEC_MISMATCH');
    expect(hit.message).toBe("cannot be set when the video codec is 'copy'");
  });

  it('names pixel_format as the request spells it when refusing it with the copy video codec', () => {
    const issues = check(convertSpec(out('mkv', { video: { codec: 'copy', pixelFormat: 'yuv420p' } })));
    expect(at(issues, 'output.video.pixel_format').code, 'the field must be output.video.pixel_format, not the canonical pixelFormat').toBe('CODEC_MISMATCH');
  });

  it('lists every setting that conflicts with the copy video codec, not only the first', () => {
    const issues = check(convertSpec(out('mkv', { video: { codec: 'copy', width: 1280, fps: 30, crf: 20 } })));
    expect(fields(issues.filter((i) => i.code === 'CODEC_MISMATCH')).sort()).toEqual(
      ['output.video.width:CODEC_MISMATCH', 'output.video.fps:CODEC_MISMATCH', 'output.video.crf:CODEC_MISMATCH'].sort(),
    );
  });

  it.each<Operation>([...videoOps, { type: 'speed', factor: 2 }, { type: 'fade', direction: 'in', duration: 1 }])(
    'refuses the re-encoding operation $type with the copy video codec, naming the operation',
    (op) => {
      const hit = at(check(convertSpec(out('mp4', { video: { codec: 'copy' } }), [trim, op])), 'operations[1].type');
      expect(hit.code).toBe('CODEC_MISMATCH');
      expect(hit.details.value).toBe(op.type);
      expect(hit.details.suggestion).toBe("set output.video.codec to 'h264'");
    },
  );

  it.each<[string, AudioSettings]>([
    ['bitrate', { bitrate: 128_000 }],
    ['channels', { channels: 2 }],
    ['normalize', { normalize: true }],
  ])('refuses output.audio.%s together with the copy audio codec', (key, settings) => {
    const hit = at(check(convertSpec(out('mp4', { audio: { codec: 'copy', ...settings } }))), `output.audio.${key}`);
    expect(hit.code).toBe('CODEC_MISMATCH');
    expect(hit.message).toBe("cannot be set when the audio codec is 'copy'");
  });

  it('names sample_rate as the request spells it when refusing it with the copy audio codec', () => {
    const issues = check(convertSpec(out('mp4', { audio: { codec: 'copy', sampleRate: '48000' } })));
    expect(at(issues, 'output.audio.sample_rate').code, 'the field must be output.audio.sample_rate, not the canonical sampleRate').toBe('CODEC_MISMATCH');
  });

  it.each<Operation>([{ type: 'speed', factor: 2 }, { type: 'fade', direction: 'out', duration: 1 }])(
    'refuses the audio-changing operation $type with the copy audio codec',
    (op) => {
      const hit = at(check(convertSpec(out('mp4', { audio: { codec: 'copy' } }), [op])), 'operations[0].type');
      expect(hit.code).toBe('CODEC_MISMATCH');
      expect(hit.message).toContain("audio codec cannot be 'copy'");
    },
  );

  it('accepts normalize: false with the copy audio codec, since it asks for nothing', () => {
    const issues = check(convertSpec(out('mp4', { audio: { codec: 'copy', normalize: false } })));
    expect(issues, show(issues)).toEqual([]);
  });
});

describe('validateSpec: contradictory settings', () => {
  it.each<[Container, VideoSettings, boolean]>([
    ['mp4', { codec: 'h264', crf: 51 }, true],
    ['mp4', { codec: 'h264', crf: 52 }, false],
    ['mp4', { codec: 'h265', crf: 51 }, true],
    ['mp4', { codec: 'h265', crf: 60 }, false],
    ['mp4', { crf: 52 }, false],
    ['webm', { codec: 'vp9', crf: 63 }, true],
    ['webm', { crf: 60 }, true],
    ['mkv', { codec: 'av1', crf: 63 }, true],
  ])('checks the crf range per codec: %s %j → allowed %s', (format, video, ok) => {
    const issues = check(convertSpec(out(format, { video })));
    if (ok) expect(issues, show(issues)).toEqual([]);
    else {
      const hit = at(issues, 'output.video.crf');
      expect(hit.code).toBe('CODEC_MISMATCH');
      expect(hit.message).toMatch(/^must be at most 51 for h26[45]$/);
      expect(hit.details.value).toBe(video.crf);
    }
  });

  it('refuses crf and bitrate together', () => {
    const issues = check(convertSpec(out('mp4', { video: { crf: 23, bitrate: 5_000_000 } })));
    expect(fields(issues)).toEqual(['output.video.crf:INVALID_OUTPUT']);
    expect(at(issues, 'output.video.crf').message).toBe('give crf or bitrate, not both');
  });

  it.each<[VideoSettings['codec'], VideoSettings['profile'], boolean]>([
    ['h264', 'baseline', true],
    ['h264', 'main', true],
    ['h264', 'high', true],
    ['h264', 'high10', true],
    ['h264', 'high444', true],
    ['h264', 'main10', false],
    ['h265', 'main', true],
    ['h265', 'main10', true],
    ['h265', 'main-still-picture', true],
    ['h265', 'high', false],
    ['h265', 'baseline', false],
  ])('checks the profile per codec: %s with %s → allowed %s', (codec, profile, ok) => {
    const issues = check(convertSpec(out('mp4', { video: { codec, profile } })));
    if (ok) expect(issues, show(issues)).toEqual([]);
    else {
      const hit = at(issues, 'output.video.profile');
      expect(hit.code).toBe('CODEC_MISMATCH');
      expect(hit.message).toBe(`'${profile}' is not a ${codec} profile`);
      expect(hit.details.allowed).not.toContain(profile);
    }
  });

  it('refuses h265 profile "high" and lists the h265 profiles', () => {
    const hit = at(check(convertSpec(out('mp4', { video: { codec: 'h265', profile: 'high' } }))), 'output.video.profile');
    expect(hit.details.allowed).toEqual(['main', 'main10', 'main-still-picture']);
  });

  it('applies the container default codec (h264 for mp4) when checking a profile', () => {
    expect(fields(check(convertSpec(out('mp4', { video: { profile: 'main10' } }))))).toEqual(['output.video.profile:CODEC_MISMATCH']);
  });

  it('refuses a pixel_format for GIF, which uses a palette', () => {
    const issues = check(convertSpec(out('gif', { video: { pixelFormat: 'yuv420p' } })));
    expect(fields(issues)).toEqual(['output.video.pixel_format:CODEC_MISMATCH']);
  });

  it.each<[Container, AudioSettings, string]>([
    ['wav', { bitrate: 192_000 }, 'pcm'],
    ['mov', { codec: 'pcm', bitrate: 192_000 }, 'pcm'],
    ['flac', { bitrate: 192_000 }, 'flac'],
    ['mkv', { codec: 'flac', bitrate: 320_000 }, 'flac'],
  ])('refuses a bitrate for lossless audio: %s %j', (format, audio, codec) => {
    const hit = at(check(convertSpec(out(format, { audio }))), 'output.audio.bitrate');
    expect(hit.code).toBe('CODEC_MISMATCH');
    expect(hit.message).toBe(`${codec} is lossless; bitrate does not apply`);
  });

  it.each<[Container, AudioSettings, boolean]>([
    ['webm', { sampleRate: '48000' }, true],
    ['webm', { sampleRate: '44100' }, false],
    ['ogg', { sampleRate: '22050' }, false],
    ['mp4', { codec: 'opus', sampleRate: '16000' }, true],
    ['mp4', { codec: 'opus', sampleRate: '96000' }, false],
    ['webm', { codec: 'vorbis', sampleRate: '44100' }, true],
  ])('checks the opus sample rates: %s %j → allowed %s', (format, audio, ok) => {
    const issues = check(convertSpec(out(format, { audio })));
    if (ok) expect(issues, show(issues)).toEqual([]);
    else {
      const hit = at(issues, 'output.audio.sample_rate');
      expect(hit.code).toBe('CODEC_MISMATCH');
      expect(hit.details.allowed).toEqual(['8000', '16000', '24000', '48000']);
    }
  });
});

describe('validateSpec: operation combinations', () => {
  it.each<[string, Operation[]]>([
    ['trim', [trim, { type: 'trim', start: 20 }]],
    ['watermark', [watermark, { ...watermark, position: 'top-left' }]],
  ])("allows only one '%s' operation", (type, ops) => {
    const hit = at(check(convertSpec(out('mp4'), ops)), 'operations');
    expect(hit.code).toBe('INVALID_OPERATION');
    expect(hit.message).toBe(`only one '${type}' operation is allowed`);
  });

  it.each<[string, Operation[]]>([
    ['thumbnail', [thumbnail, { type: 'thumbnail', timestamp: 9, quality: 'low' }]],
    ['thumbnail_grid', [grid, grid]],
  ])("allows only one '%s' operation in an image job", (type, ops) => {
    const hit = at(check(convertSpec(out('jpg', { path: '/storage/thumbs' }), ops)), 'operations');
    expect(hit.message).toBe(`only one '${type}' operation is allowed`);
  });

  it("refuses 'thumbnail' and 'thumbnail_grid' in one job", () => {
    const issues = check(convertSpec(out('jpg', { path: '/storage/thumbs' }), [thumbnail, grid]));
    expect(fields(issues)).toEqual(['operations:INVALID_OPERATION']);
    expect(at(issues, 'operations').message).toContain('cannot be combined');
  });

  it('refuses a trim with both duration and end', () => {
    const issues = check(convertSpec(out('mp4'), [{ type: 'trim', start: 0, duration: 5, end: 10 }]));
    expect(fields(issues)).toEqual(['operations[0]:INVALID_OPERATION']);
  });

  it.each([
    [30, 10],
    [30, 30],
  ])('refuses a trim from %d s whose end is %d s, naming operations[i].end', (start, end) => {
    const issues = check(convertSpec(out('mp4'), [{ type: 'scale', height: 720 }, { type: 'trim', start, end }]));
    const hit = at(issues, 'operations[1].end');
    expect(hit.code).toBe('INVALID_OPERATION');
    expect(hit.message).toBe('must be after start');
    expect(hit.details.value).toBe(end);
  });

  it.each<[string, Partial<Extract<Operation, { type: 'thumbnail' }>>]>([
    ['count and timestamp', { count: 5, timestamp: 3 }],
    ['count and interval', { count: 5, interval: 2 }],
    ['timestamp and interval', { timestamp: 3, interval: 2 }],
    ['all three', { count: 5, timestamp: 3, interval: 2 }],
  ])('refuses a thumbnail with %s', (_what, modes) => {
    const issues = check(convertSpec(out('jpg', { path: '/storage/thumbs' }), [{ type: 'thumbnail', quality: 'high', ...modes }]));
    const hit = at(issues, 'operations[0]');
    expect(hit.code).toBe('INVALID_OPERATION');
    expect(hit.message).toBe('give one of timestamp, count or interval');
  });
});

describe('validateSpec: paths that would overwrite', () => {
  it('refuses a convert output that is the input', () => {
    const issues = check(convertSpec(out('mp4', { path: IN })));
    expect(fields(issues)).toEqual(['output.path:INVALID_OUTPUT']);
    expect(at(issues, 'output.path').details.value).toBe(IN);
  });

  it('refuses a convert output that is the watermark image', () => {
    const image = '/storage/output/result.mp4';
    const issues = check(convertSpec(out('mp4', { path: image }), [{ ...watermark, image } as Operation]));
    expect(at(issues, 'output.path').message).toBe('must not overwrite the watermark image');
  });

  it('refuses a stream folder that is the input path', () => {
    const issues = check(streamSpec([{ name: '720p', height: 720, bitrate: 2_000_000 }], { path: IN }));
    expect(fields(issues)).toEqual(['output:INVALID_OUTPUT']);
  });

  it('refuses an analyze report written over the input', () => {
    expect(fields(check(analyzeSpec(IN)))).toEqual(['output:INVALID_OUTPUT']);
  });

  it('refuses an analyze report written over the reference video', () => {
    const issues = check(analyzeSpec('/storage/ref.mp4', '/storage/ref.mp4'));
    expect(fields(issues), 'the report must not replace the reference it measures against').toEqual(['output:INVALID_OUTPUT']);
  });

  it('refuses a convert job without an output', () => {
    const spec: MediaJobSpec = { type: 'convert', input: { path: IN }, operations: [], options };
    expect(fields(check(spec))).toEqual(['output:INVALID_OUTPUT']);
  });
});

describe('validateSpec: stream variants', () => {
  it('refuses duplicate variant names, naming every repeat', () => {
    const issues = check(streamSpec([
      { name: '720p', height: 720, bitrate: 2_000_000 },
      { name: '480p', height: 480, bitrate: 1_000_000 },
      { name: '720p', width: 1280, height: 720, bitrate: 3_000_000 },
      { name: '480p', height: 480, bitrate: 800_000 },
    ]));
    expect(fields(issues)).toEqual(['variants[2].name:INVALID_OUTPUT', 'variants[3].name:INVALID_OUTPUT']);
    expect(at(issues, 'variants[2].name').details.value).toBe('720p');
  });

  it('accepts distinct names that differ only by case', () => {
    const issues = check(streamSpec([
      { name: 'hd', height: 720, bitrate: 2_000_000 },
      { name: 'HD', height: 1080, bitrate: 5_000_000 },
    ]));
    expect(issues, show(issues)).toEqual([]);
  });
});

describe('validateSpec: every problem at once', () => {
  it('lists operation, codec and setting problems of one spec together', () => {
    const issues = check(convertSpec(
      out('mov', { video: { codec: 'vp9', crf: 23, bitrate: 1_000_000 }, audio: { codec: 'opus' } }),
      [trim, { type: 'trim', start: 1 }, { type: 'trim', start: 9, end: 3 }],
    ));
    expect(fields(issues).sort()).toEqual(
      [
        'operations:INVALID_OPERATION',
        'operations[2].end:INVALID_OPERATION',
        'output.video.codec:INVALID_CODEC_FORMAT',
        'output.video.crf:INVALID_OUTPUT',
        'output.audio.codec:INVALID_CODEC_FORMAT',
      ].sort(),
    );
  });

  it('gives every issue a known code, a field and a message', () => {
    // Runs last in the file: sweeps every issue the tests above collected.
    expect(allIssues.length, 'the tests above should have produced issues to sweep').toBeGreaterThan(50);
    for (const i of allIssues) {
      expect(ErrorCodes, `${i.details.field}: ${i.message}`).toContain(i.code);
      expect(i.details.field, `the field must be a request path (snake_case keys, [i] indices): ${i.message}`).toMatch(/^[a-z_]+(\[\d+\])?(\.[a-z_]+(\[\d+\])?)*$/);
      expect(i.message.length, `an empty message at ${i.details.field}`).toBeGreaterThan(0);
    }
  });
});
