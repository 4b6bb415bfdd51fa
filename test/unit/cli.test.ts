// The CLI's pure parts: command splitting, request bodies from flags, error and progress display.
import { describe, expect, it } from 'vitest';
import { parseCommandArgs, splitCommand } from '../../cli/src/args.ts';
import { describeError, normalizeBaseUrl, UsageError } from '../../cli/src/errors.ts';
import { shQuote } from '../../cli/src/format.ts';
import { analyzeBody, convertBody, streamBody, submitCommands } from '../../cli/src/jobs.ts';
import { normalizeRequest } from '../../crds/src/normalize.ts';
import { keyIdCandidates } from '../../cli/src/keys.ts';
import { ProgressReporter } from '../../cli/src/progress.ts';
import { KubeffError } from '../../sdk/src/index.ts';

const isGroup = (w: string) => w === 'keys' || w === 'jobs' || w === 'help';

function parsed(command: 'convert' | 'stream' | 'analyze', args: string[]) {
  const c = submitCommands.find((x) => x.path === command);
  if (!c) throw new Error(`no ${command}`);
  return parseCommandArgs(args, c.options);
}

describe('splitCommand', () => {
  it.each([
    { argv: ['convert', 'a', 'b', '--wait'], words: ['convert'], rest: ['a', 'b', '--wait'] },
    { argv: ['--url', 'http://x', 'keys', 'list', '--json'], words: ['keys', 'list'], rest: ['--url', 'http://x', '--json'] },
    { argv: ['--key=k', 'keys', '--json', 'rotate', 'abc'], words: ['keys', 'rotate'], rest: ['--key=k', '--json', 'abc'] },
    { argv: ['jobs'], words: ['jobs'], rest: [] },
    { argv: ['--help'], words: [], rest: ['--help'] },
  ])('finds $words in $argv', ({ argv, words, rest }) => {
    expect(splitCommand(argv, isGroup)).toEqual({ words, rest });
  });
});

describe('request bodies from flags', () => {
  it('keeps the reference\'s "mp4" shorthand when no setting is given', () => {
    expect(convertBody(parsed('convert', ['/storage/in.mov', 'mp4']))).toEqual({ input: '/storage/in.mov', output: 'mp4' });
  });

  it('builds output.video, output.audio, a trim and extra operations in order', () => {
    const body = convertBody(parsed('convert', [
      '/storage/in.mov', '/storage/out.mp4', '--codec', 'h265', '--crf', '28', '--resolution', '720p', '--fps', '29.97',
      '--audio-codec', 'aac', '--audio-bitrate', '128k', '--channels', '2', '--normalize',
      '--start', '10', '--duration', '00:01:00', '--op', '{"type":"rotate","degrees":90}', '--priority', 'low',
    ]));
    expect(body).toEqual({
      input: '/storage/in.mov',
      output: { path: '/storage/out.mp4', video: { codec: 'h265', crf: 28, resolution: '720p', fps: 29.97 }, audio: { codec: 'aac', bitrate: '128k', channels: 2, normalize: true } },
      operations: [{ type: 'trim', start: 10, duration: '00:01:00' }, { type: 'rotate', degrees: 90 }],
      options: { priority: 'low' },
    });
  });

  it('refuses what cannot become a body: a non-number, a fractional crf, bad JSON in --op', () => {
    expect(() => convertBody(parsed('convert', ['a', 'b', '--crf', 'x']))).toThrow(new UsageError("--crf: 'x' is not a number"));
    expect(() => convertBody(parsed('convert', ['a', 'b', '--crf', '2.5']))).toThrow(/not a whole number/);
    expect(() => convertBody(parsed('convert', ['a', 'b', '--op', '{type:rotate}']))).toThrow(/--op: not JSON/);
    expect(() => convertBody(parsed('convert', ['a', 'b', '--op', '[1]']))).toThrow(/--op: must be a JSON object/);
  });

  it('builds target VMAF, a cap, a quality gate, a split and verification off from flags', () => {
    const body = convertBody(parsed('convert', [
      '/storage/in.mov', '/storage/out.mp4', '--target-vmaf', '93', '--max-bitrate', '4M', '--vmaf-samples', '6',
      '--vmaf-min', '90', '--on-fail', 'fail', '--parallelism', 'auto', '--no-verify',
    ]));
    expect(body).toEqual({
      input: '/storage/in.mov',
      output: { path: '/storage/out.mp4', video: { target_vmaf: 93, max_bitrate: '4M', vmaf_samples: 6 } },
      options: { parallelism: 'auto', verify: false, quality_gate: { vmaf_min: 90, on_fail: 'fail' } },
    });
    // The server checks the values; the body reaches it as normalizeRequest takes it.
    expect(normalizeRequest('convert', body).output?.video).toMatchObject({ targetVmaf: 93, maxBitrate: 4_000_000, vmafSamples: 6 });
  });

  it('asks for a per-title ladder with --variant auto and its bounds', () => {
    expect(streamBody(parsed('stream', ['/storage/in.mp4', '/storage/hls', '--variant', 'auto', '--max-variants', '4', '--max-bitrate', '6M']))).toEqual({
      input: '/storage/in.mp4', output: '/storage/hls', variants: 'auto', max_variants: 4, max_bitrate: '6M',
    });
    expect(() => streamBody(parsed('stream', ['/storage/in.mp4', '/storage/hls', '--variant', 'auto', '--variant', '720p:2M']))).toThrow(/no other --variant/);
  });

  it('reads stream variants as RESOLUTION:BITRATE[:NAME]', () => {
    expect(streamBody(parsed('stream', ['/storage/in.mp4', '/storage/hls', '--type', 'dash', '--variant', '1080p:5M', '--variant', '854x480:1000k:sd']))).toEqual({
      input: '/storage/in.mp4',
      output: '/storage/hls',
      type: 'dash',
      variants: [{ resolution: '1080p', bitrate: '5M' }, { resolution: '854x480', bitrate: '1000k', name: 'sd' }],
    });
    expect(() => streamBody(parsed('stream', ['a', 'b', '--variant', '720p']))).toThrow(/RESOLUTION:BITRATE/);
  });

  it('takes analyze metrics repeated or comma-separated, and needs a reference', () => {
    expect(analyzeBody(parsed('analyze', ['/storage/a.mp4', '--reference', '/storage/r.mp4', '--metric', 'vmaf,psnr', '--metric', 'ssim']))).toEqual({
      input: '/storage/a.mp4',
      reference: '/storage/r.mp4',
      metrics: ['vmaf', 'psnr', 'ssim'],
    });
    expect(() => analyzeBody(parsed('analyze', ['/storage/a.mp4']))).toThrow(/--reference is required/);
  });
});

describe('errors and configuration', () => {
  it('shows the API\'s code, message, field, allowed values and suggestion', () => {
    const err = new KubeffError({
      status: 400,
      envelope: {
        error: {
          type: 'validation_error',
          code: 'INVALID_CODEC_FORMAT',
          message: "output.video.codec: Codec 'vp9' is incompatible with format 'mp4'",
          details: { field: 'output.video.codec', value: 'vp9', allowed: ['h264', 'h265'], suggestion: "Use 'webm'" },
          doc_url: 'https://example.invalid/errors#INVALID_CODEC_FORMAT',
          request_id: 'req_1',
        },
      },
      fallbackMessage: 'HTTP 400',
      method: 'POST',
      url: 'http://127.0.0.1:8000/api/v1/convert',
    });
    expect(describeError(err)).toBe([
      "HTTP 400 INVALID_CODEC_FORMAT: output.video.codec: Codec 'vp9' is incompatible with format 'mp4'",
      '  field: output.video.codec',
      '  value: "vp9"',
      '  allowed: h264, h265',
      "  suggestion: Use 'webm'",
      '  request id: req_1',
    ].join('\n'));
  });

  it.each([
    ['http://localhost:8000', 'http://localhost:8000'],
    ['http://localhost:8000/', 'http://localhost:8000'],
    ['https://media.example.com/api/v1/', 'https://media.example.com'],
    ['http://h/prefix', 'http://h/prefix'],
  ])('takes %s as the server %s', (raw, base) => {
    expect(normalizeBaseUrl(raw)).toBe(base);
  });

  it('refuses a server URL that is not http(s)', () => {
    expect(() => normalizeBaseUrl('ftp://h')).toThrow(UsageError);
    expect(() => normalizeBaseUrl('localhost')).toThrow(UsageError);
  });

  it('tells a key\'s id from the key: generated keys by their prefix, environment keys by their hash', () => {
    expect(keyIdCandidates('kff_0123456789ab_secret')[0]).toBe('0123456789ab');
    // sha256("admin-key-1") starts with 81d5958ea279 (gateway/src/auth.ts names env keys so).
    expect(keyIdCandidates('admin-key-1')).toEqual(['env-81d5958ea279']);
  });

  it('quotes values for sh, including single quotes', () => {
    expect(shQuote("it's")).toBe(`'it'\\''s'`);
  });
});

describe('ProgressReporter', () => {
  const sink = () => {
    const chunks: string[] = [];
    return { chunks, write: (s: string) => chunks.push(s), text: () => chunks.join('') };
  };

  it('redraws one bar in place on a terminal and clears it before other text', () => {
    const out = sink();
    const r = new ProgressReporter(out, { tty: true, quiet: false, columns: 100 });
    r.progress({ percentage: 25, stage: 'encoding', fps: 48.5, eta_seconds: 240 });
    r.progress({ percentage: 50, stage: 'encoding' });
    r.note('status processing');
    r.done();
    expect(out.chunks[0]).toMatch(/^\r\x1b\[2K\[#{10}-{30}\]  25\.0%  encoding  48\.5 fps  ETA 4m00s$/);
    expect(out.chunks[1]).toMatch(/^\r\x1b\[2K\[#{20}-{20}\]  50\.0%/);
    // The note: clear, line, redraw; done: clear.
    expect(out.chunks.slice(2)).toEqual(['\r\x1b[2K', 'status processing\n', expect.stringMatching(/^\r\x1b\[2K\[#{20}-/), '\r\x1b[2K']);
  });

  it('writes plain lines off a terminal, only when the percentage or stage moved enough, or time passed', () => {
    const out = sink();
    let now = 0;
    const r = new ProgressReporter(out, { tty: false, quiet: false, now: () => now });
    for (const pct of [1, 2, 3, 8, 11.5, 12]) r.progress({ percentage: pct, stage: 'encoding' });
    now = 6000;
    r.progress({ percentage: 13, stage: 'encoding' });
    r.progress({ percentage: 13.5, stage: 'muxing' });
    r.progress({ percentage: 100, stage: 'muxing' });
    expect(out.text().split('\n').filter(Boolean).map((l) => l.replace(/\s+/g, ' '))).toEqual([
      'progress 1.0% encoding',
      'progress 11.5% encoding',
      'progress 13.0% encoding',
      'progress 13.5% muxing',
      'progress 100.0% muxing',
    ]);
    expect(out.text()).not.toMatch(/[\r\x1b]/);
  });

  it('writes nothing when quiet', () => {
    const out = sink();
    const r = new ProgressReporter(out, { tty: true, quiet: true });
    r.progress({ percentage: 50 });
    r.note('status processing');
    r.done();
    expect(out.chunks).toEqual([]);
  });
});
