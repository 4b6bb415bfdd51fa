// The pure planners: a canonical spec, a probe and the node's capabilities in, FFmpeg argv out.
// Assertions are about argv properties (inputs, filter order, encoder options), not whole lines.
import { describe, expect, it } from 'vitest';
import { normalizeRequest } from '../../crds/src/normalize.ts';
import type { MediaJobSpec, Operation, OperationOf, OutputSpec, StreamSpec, VideoSettings, AudioSettings } from '../../crds/src/spec.ts';
import { ExitCode } from '../../worker-image/src/exit-codes.ts';
import { JobFailure } from '../../worker-image/src/failure.ts';
import { MetricFiles, planAnalyze, VmafModelFiles, type AnalyzeTool } from '../../worker-image/src/plan/analyze.ts';
import { planConvert } from '../../worker-image/src/plan/convert.ts';
import { loudnormApply, LoudnessTarget, measurementFrom, parseLoudnorm, planLoudnessMeasure } from '../../worker-image/src/plan/loudnorm.ts';
import { dashManifest, hlsMaster, planStream, renditions } from '../../worker-image/src/plan/stream.ts';
import { gridLayout, planGrid, planThumbnail, seriesLayout, spriteVtt } from '../../worker-image/src/plan/thumbnails.ts';
import type { LoudnessMeasurement, Plan, PlanContext } from '../../worker-image/src/plan/types.ts';
import type { MediaInfo } from '../../worker-image/src/probe.ts';

// ---- builders ---------------------------------------------------------------------------------

type InfoMod = (i: MediaInfo) => void;

/** A 60 s 1080p25 H.264 + stereo AAC MP4, changed by the modifiers given. */
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
const silent: InfoMod = (i) => void (i.audio = undefined);
const audioOnly: InfoMod = (i) => void ((i.video = undefined), (i.formatName = 'mp3'));
const stillImage: InfoMod = (i) => void ((i.isImage = true), (i.audio = undefined), (i.durationSeconds = 0), (i.formatName = 'png_pipe'));

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
const out = (s: MediaJobSpec) => s.output as OutputSpec;
const format = (f: OutputSpec['format'], path = `/storage/out/result.${f}`): SpecMod => (s) => void Object.assign(out(s), { format: f, path });
const video = (v: VideoSettings): SpecMod => (s) => void (out(s).video = { ...out(s).video, ...v });
const audio = (a: AudioSettings): SpecMod => (s) => void (out(s).audio = { ...out(s).audio, ...a });
const ops = (...operations: Operation[]): SpecMod => (s) => void (s.operations = operations);

const hostRoot = '/data/storage';
const host = (storagePath: string) => storagePath.replace(/^\/storage\//, `${hostRoot}/`);

type CtxMod = (c: PlanContext) => void;

/** A plan context on a CPU node with the usual encoders; paths are host paths of the spec's. */
function aContext(spec: MediaJobSpec, ...mods: CtxMod[]): PlanContext {
  const ctx: PlanContext = {
    spec,
    input: host(spec.input.path),
    inputInfo: aMediaInfo(),
    staging: `${hostRoot}/out/.kubeff-staging-job1`,
    scratch: '/tmp/kubeff-job1-scratch',
    ffmpeg: '/usr/bin/ffmpeg',
    encoders: new Set(['libx264', 'libx265', 'libvpx-vp9', 'libaom-av1', 'libsvtav1', 'gif', 'mjpeg', 'png', 'libwebp', 'aac', 'libmp3lame', 'libopus', 'flac', 'pcm_s16le']),
    statsPeriod: true,
    acceleration: { decode: 'cpu', encode: 'cpu', reason: 'test' },
  };
  const wm = spec.operations.find((o) => o.type === 'watermark');
  if (wm?.type === 'watermark') ctx.watermark = host(wm.image);
  for (const m of mods) m(ctx);
  return ctx;
}
const info = (...m: InfoMod[]): CtxMod => (c) => void (c.inputInfo = aMediaInfo(...m));
const encoders = (...names: string[]): CtxMod => (c) => void (c.encoders = new Set(names));
const accel = (decode: 'cpu' | 'nvdec', encode: 'cpu' | 'nvenc'): CtxMod => (c) => void (c.acceleration = { decode, encode, reason: 'test' });
const measured = (m: LoudnessMeasurement): CtxMod => (c) => void (c.loudness = m);
const oldFfmpeg: CtxMod = (c) => void (c.statsPeriod = false);

const watermarkOp = (over: Partial<OperationOf<'watermark'>> = {}): OperationOf<'watermark'> => ({
  type: 'watermark', image: '/storage/brand/logo.png', position: 'bottom-right', opacity: 1, scale: 0.1, margin: 16, ...over,
});

// ---- argv readers -----------------------------------------------------------------------------

function only(plan: Plan): string[] {
  expect(plan.steps, 'this planner makes one FFmpeg run').toHaveLength(1);
  return (plan.steps[0] as { args: string[] }).args;
}

/** The value after the first occurrence of a flag. */
function after(args: readonly string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

/** Every value after a flag, in order. */
function allAfter(args: readonly string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag && i + 1 < args.length ? [args[i + 1] as string] : []));
}

function hasSeq(args: readonly string[], seq: readonly string[]): boolean {
  return args.some((_, i) => seq.every((s, j) => args[i + j] === s));
}

function graphOf(args: readonly string[]): string {
  const g = after(args, '-filter_complex');
  if (g === undefined) throw new Error(`no -filter_complex in: ${args.join(' ')}`);
  return g;
}

/** The chains of a filter graph, keyed by their output label. */
function chainsOf(graph: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const c of graph.split(';')) {
    const label = /\[([^\]]+)\]$/.exec(c)?.[1];
    if (!label) throw new Error(`chain without an output label: ${c}`);
    m.set(label, c);
  }
  return m;
}

/** The filter names of one chain in order, labels stripped. */
function namesOf(chainText: string): string[] {
  const body = chainText.replace(/^(\[[^\]]+\])+/, '').replace(/\[[^\]]+\]$/, '');
  return body.split(',').map((f) => f.split('=')[0] as string);
}

/** The filters (with arguments) of one chain, labels stripped. */
function filtersOf(chainText: string): string[] {
  return chainText.replace(/^(\[[^\]]+\])+/, '').replace(/\[[^\]]+\]$/, '').split(',');
}

function chainTo(args: readonly string[], label: string): string {
  const c = chainsOf(graphOf(args)).get(label);
  if (!c) throw new Error(`no chain writes [${label}] in ${graphOf(args)}`);
  return c;
}

interface InputArg {
  path: string;
  options: string[];
}

/**
 * Every -i with what precedes it back to its -protocol_whitelist. Fails if an input lacks the
 * whitelist, names something other than file:, or the whitelist allows more than the file protocol.
 */
function inputsOf(args: readonly string[]): InputArg[] {
  const found: InputArg[] = [];
  args.forEach((a, i) => {
    if (a !== '-i') return;
    const target = args[i + 1] ?? '';
    expect(target.startsWith('file:'), `input '${target}' is not a file: URL`).toBe(true);
    const wl = args.lastIndexOf('-protocol_whitelist', i);
    expect(wl, `input ${target} has no -protocol_whitelist before it`).toBeGreaterThanOrEqual(0);
    expect(args[wl + 1], `input ${target} allows protocols other than file`).toBe('file');
    const options = args.slice(wl + 2, i);
    expect(options.includes('-i'), `the whitelist before ${target} belongs to another input`).toBe(false);
    found.push({ path: target.slice('file:'.length), options });
  });
  return found;
}

/** Checks the parts every planner must have and returns the args. */
function checkCommon(args: readonly string[], inputs: string[]): InputArg[] {
  expect(hasSeq(args, ['-progress', 'pipe:1']), 'machine-readable progress on stdout').toBe(true);
  expect(args, 'no interactive stats on stderr').toContain('-nostats');
  expect(args, 'never reads stdin').toContain('-nostdin');
  const found = inputsOf(args);
  expect(found.map((f) => f.path), 'the inputs and their order').toEqual(inputs);
  return found;
}

function failure(fn: () => unknown): JobFailure {
  try {
    fn();
  } catch (e) {
    if (e instanceof JobFailure) return e;
    throw new Error(`expected a JobFailure, got ${String(e)}`);
  }
  throw new Error('expected a JobFailure, but planning succeeded');
}

const convert = (spec: MediaJobSpec, ...mods: CtxMod[]) => planConvert(aContext(spec, ...mods));
const convertArgs = (spec: MediaJobSpec, ...mods: CtxMod[]) => only(convert(spec, ...mods));

// ---- convert ----------------------------------------------------------------------------------

describe('planConvert', () => {
  describe('inputs and outputs', () => {
    it('reads the input through the file protocol only and writes the staging file the same way', () => {
      const args = convertArgs(aConvertSpec());
      checkCommon(args, [`${hostRoot}/in/video.mp4`]);
      expect(args.slice(-5), 'muxer, whitelist and staging file end the command').toEqual(['-f', 'mp4', '-protocol_whitelist', 'file', `file:${hostRoot}/out/.kubeff-staging-job1`]);
      expect(args, 'metadata of the input (GPS, names) is not copied').toContain('-map_metadata');
    });

    it('adds the watermark as a second file-protocol input without the trim options', () => {
      const spec = aConvertSpec(ops({ type: 'trim', start: 5, duration: 10 }, watermarkOp()));
      const [main, wm] = checkCommon(convertArgs(spec), [`${hostRoot}/in/video.mp4`, `${hostRoot}/brand/logo.png`]);
      expect(main?.options).toEqual(['-ss', '5', '-t', '10']);
      expect(wm?.options, 'the watermark image is not seeked').toEqual([]);
    });

    it.each([
      ['FFmpeg 4.4+', [], true],
      ['an FFmpeg without -stats_period', [oldFfmpeg], false],
    ] as [string, CtxMod[], boolean][])('asks %s for progress every 0.5 s only if it knows -stats_period', (_name, mods, present) => {
      const args = convertArgs(aConvertSpec(), ...mods);
      expect(hasSeq(args, ['-stats_period', '0.5']), 'an unknown option would make FFmpeg fail').toBe(present);
      expect(hasSeq(args, ['-progress', 'pipe:1'])).toBe(true);
    });

    it('spells commands as argv: no element is a shell line', () => {
      for (const a of convertArgs(aConvertSpec(ops({ type: 'scale', width: 1280 })))) {
        expect(/[|&`$]/.test(a) && !a.startsWith('file:'), `'${a}' looks like shell syntax`).toBe(false);
      }
    });

    it('plans the same spec normalized from a Rendiff-style request', () => {
      const spec = normalizeRequest('convert', {
        input: '/storage/in/video.mp4',
        output: { path: '/storage/out/small.mp4', video: { codec: 'h265', resolution: '1280x720', crf: 26 } },
        operations: [{ type: 'trim', start: 1, duration: 5 }],
      });
      const args = convertArgs(spec);
      checkCommon(args, [`${hostRoot}/in/video.mp4`]);
      expect(after(args, '-c:v')).toBe('libx265');
      expect(after(args, '-crf')).toBe('26');
      expect(filtersOf(chainTo(args, 'vout'))).toContain('scale=w=1280:h=720');
    });
  });

  describe('trim', () => {
    it.each([
      ['start and duration', { type: 'trim', start: 5, duration: 10 }, ['-ss', '5', '-t', '10'], 10],
      ['start and end', { type: 'trim', start: 5, end: 15.5 }, ['-ss', '5', '-t', '10.5'], 10.5],
      ['a start only', { type: 'trim', start: 42 }, ['-ss', '42'], 18],
      ['a duration from zero', { type: 'trim', start: 0, duration: 3 }, ['-t', '3'], 3],
      ['a duration past the end', { type: 'trim', start: 50, duration: 30 }, ['-ss', '50', '-t', '30'], 10],
    ] as [string, Operation, string[], number][])('puts %s before -i as input options', (_name, op, options, seconds) => {
      const plan = convert(aConvertSpec(ops(op)));
      const [main] = inputsOf(only(plan));
      expect(main?.options).toEqual(options);
      expect(plan.outputSeconds, 'the output length is the trimmed length').toBe(seconds);
      expect(plan.steps[0]?.expectedSeconds).toBe(seconds);
    });

    it('refuses a trim that starts past the end of the input, naming the field', () => {
      const f = failure(() => convert(aConvertSpec(ops({ type: 'trim', start: 75 }))));
      expect({ code: f.code, exitCode: f.exitCode, field: f.field }).toEqual({ code: 'INVALID_INPUT', exitCode: ExitCode.invalidInput, field: 'operations[0].start' });
      expect(f.message).toContain('75');
    });

    it('refuses a trim that starts exactly at the end', () => {
      expect(() => convert(aConvertSpec(ops({ type: 'scale', width: 640 }, { type: 'trim', start: 60 })))).toThrow(/trim starts at 60s/);
    });
  });

  describe('video filters', () => {
    it('applies crop then scale in that order when asked so', () => {
      const args = convertArgs(aConvertSpec(ops({ type: 'crop', width: 1280, height: 720, x: 100, y: 50 }, { type: 'scale', width: 640 })));
      expect(filtersOf(chainTo(args, 'vout'))).toEqual(['crop=w=1280:h=720:x=100:y=50', 'scale=w=640:h=360']);
    });

    it('applies scale then crop in that order when asked so', () => {
      const args = convertArgs(aConvertSpec(ops({ type: 'scale', width: 1280 }, { type: 'crop', width: 640, height: 360, x: 10, y: 20 })));
      expect(filtersOf(chainTo(args, 'vout'))).toEqual(['scale=w=1280:h=720', 'crop=w=640:h=360:x=10:y=20']);
    });

    it('keeps exactly the requested filters, in request order, and nothing else', () => {
      const spec = aConvertSpec(ops(
        { type: 'deinterlace' },
        { type: 'denoise', strength: 'medium' },
        { type: 'flip', direction: 'horizontal' },
        { type: 'sharpen', amount: 1.5 },
        { type: 'blur', sigma: 2 },
        { type: 'color', brightness: 0.1, contrast: 1.2 },
        { type: 'fps', fps: 30 },
      ));
      expect(namesOf(chainTo(convertArgs(spec), 'vout'))).toEqual(['yadif', 'hqdn3d', 'hflip', 'unsharp', 'gblur', 'eq', 'fps']);
    });

    it('passes the video through with null when no operation changes it', () => {
      expect(chainTo(convertArgs(aConvertSpec()), 'vout')).toBe('[0:v:0]null[vout]');
    });

    it.each([
      [90, 'transpose=dir=clock', 'scale=w=540:h=960'],
      [270, 'transpose=dir=cclock', 'scale=w=540:h=960'],
    ])('swaps width and height after rotate %i, so a later scale to width 540 keeps the portrait aspect', (degrees, transpose, scale) => {
      const args = convertArgs(aConvertSpec(ops({ type: 'rotate', degrees: degrees as 90 | 270 }, { type: 'scale', width: 540 })));
      expect(filtersOf(chainTo(args, 'vout'))).toEqual([transpose, scale]);
    });

    it('keeps the frame size for rotate 180 (hflip + vflip)', () => {
      const args = convertArgs(aConvertSpec(ops({ type: 'rotate', degrees: 180 }, { type: 'scale', width: 960 })));
      expect(filtersOf(chainTo(args, 'vout'))).toEqual(['hflip', 'vflip', 'scale=w=960:h=540']);
    });

    it('uses the rotated size for output.video width too', () => {
      const args = convertArgs(aConvertSpec(ops({ type: 'rotate', degrees: 90 }), video({ width: 720 })));
      expect(filtersOf(chainTo(args, 'vout'))).toEqual(['transpose=dir=clock', 'scale=w=720:h=1280']);
    });

    it('refuses a crop outside the frame with a JobFailure naming the operation', () => {
      const f = failure(() => convert(aConvertSpec(ops({ type: 'scale', width: 1280 }, { type: 'crop', width: 1000, height: 600, x: 400, y: 0 }))));
      expect(f.code).toBe('INVALID_INPUT');
      expect(f.field, 'the field names the crop operation').toBe('operations[1]');
      expect(f.message).toMatch(/crop 1000x600 at 400,0 does not fit in the 1280x720 frame/);
    });

    it('makes odd crop sizes even', () => {
      const args = convertArgs(aConvertSpec(ops({ type: 'crop', width: 641, height: 361, x: 0, y: 0 })));
      expect(filtersOf(chainTo(args, 'vout'))).toEqual(['crop=w=640:h=360:x=0:y=0']);
    });
  });

  describe('watermark', () => {
    const anchors: [OperationOf<'watermark'>['position'], string, string][] = [
      ['top-left', '16', '16'],
      ['top', '(W-w)/2', '16'],
      ['top-right', 'W-w-16', '16'],
      ['left', '16', '(H-h)/2'],
      ['center', '(W-w)/2', '(H-h)/2'],
      ['right', 'W-w-16', '(H-h)/2'],
      ['bottom-left', '16', 'H-h-16'],
      ['bottom', '(W-w)/2', 'H-h-16'],
      ['bottom-right', 'W-w-16', 'H-h-16'],
    ];

    it.each(anchors)('places a %s watermark with overlay x=%s y=%s', (position, x, y) => {
      const args = convertArgs(aConvertSpec(ops(watermarkOp({ position }))));
      expect(filtersOf(chainTo(args, 'vout'))[0]).toBe(`overlay=x=${x}:y=${y}:format=auto`);
    });

    it('builds base, watermark and overlay chains, with filters after the watermark applied to the composite', () => {
      const args = convertArgs(aConvertSpec(ops({ type: 'crop', width: 1280, height: 720, x: 0, y: 0 }, watermarkOp({ scale: 0.25 }), { type: 'scale', width: 640 })));
      const chains = chainsOf(graphOf(args));
      expect(chains.get('base')).toBe('[0:v:0]crop=w=1280:h=720:x=0:y=0[base]');
      expect(chains.get('wm'), 'the logo is a quarter of the 1280 px wide frame').toBe('[1:v:0]scale=w=320:h=-2,format=pix_fmts=rgba[wm]');
      expect(chains.get('vout')).toBe('[base][wm]overlay=x=W-w-16:y=H-h-16:format=auto,scale=w=640:h=360[vout]');
    });

    it.each([
      [0.5, true],
      [0, true],
      [1, false],
    ])('with opacity %s adds colorchannelmixer: %s', (opacity, mixer) => {
      const wm = chainTo(convertArgs(aConvertSpec(ops(watermarkOp({ opacity })))), 'wm');
      expect(wm.includes(`colorchannelmixer=aa=${opacity}`), wm).toBe(mixer);
      expect(wm.includes('colorchannelmixer'), wm).toBe(mixer);
    });
  });

  describe('speed and fades', () => {
    it.each([
      [4, ['atempo=2', 'atempo=2']],
      [3, ['atempo=2', 'atempo=1.5']],
      [2, ['atempo=2']],
      [1.25, ['atempo=1.25']],
      [0.5, ['atempo=0.5']],
      [0.3, ['atempo=0.5', 'atempo=0.6']],
      [0.25, ['atempo=0.5', 'atempo=0.5']],
    ])('at speed %s chains atempo within 0.5..2: %j', (factor, tempo) => {
      const plan = convert(aConvertSpec(ops({ type: 'speed', factor })));
      const args = only(plan);
      expect(filtersOf(chainTo(args, 'aout'))).toEqual(tempo);
      const product = tempo.map((t) => Number(t.split('=')[1])).reduce((a, b) => a * b, 1);
      expect(product, 'the atempo chain multiplies to the factor').toBeCloseTo(factor, 6);
      for (const t of tempo) {
        const f = Number(t.split('=')[1]);
        expect(f >= 0.5 && f <= 2, `${t} is outside atempo's range`).toBe(true);
      }
      // Sped up, the frames are picked evenly at the input's rate (25 here), so the length is exact.
      expect(filtersOf(chainTo(args, 'vout'))).toEqual(factor > 1 ? [`setpts=PTS/${factor}`, 'fps=fps=25'] : [`setpts=PTS/${factor}`]);
      expect(plan.outputSeconds).toBeCloseTo(60 / factor, 6);
    });

    it('starts a fade in at 0', () => {
      const args = convertArgs(aConvertSpec(ops({ type: 'fade', direction: 'in', duration: 2 })));
      expect(filtersOf(chainTo(args, 'vout'))).toEqual(['fade=t=in:st=0:d=2']);
      expect(filtersOf(chainTo(args, 'aout'))).toEqual(['afade=t=in:st=0:d=2']);
    });

    it.each([
      ['the full 60 s input', [], 58],
      ['a 30 s trim', [{ type: 'trim', start: 10, duration: 30 }], 28],
      ['a trim to the end (50 s left)', [{ type: 'trim', start: 10 }], 48],
      ['a 30 s trim at speed 2 (15 s)', [{ type: 'trim', start: 10, duration: 30 }, { type: 'speed', factor: 2 }], 13],
      ['speed 0.5 (120 s)', [{ type: 'speed', factor: 0.5 }], 118],
    ] as [string, Operation[], number][])('starts a 2 s fade out at output length − 2 for %s', (_name, before, start) => {
      const args = convertArgs(aConvertSpec(ops(...before, { type: 'fade', direction: 'out', duration: 2 })));
      expect(filtersOf(chainTo(args, 'vout')).at(-1)).toBe(`fade=t=out:st=${start}:d=2`);
      expect(filtersOf(chainTo(args, 'aout')).at(-1)).toBe(`afade=t=out:st=${start}:d=2`);
    });

    it('shortens a fade longer than the output to the whole output', () => {
      const args = convertArgs(aConvertSpec(ops({ type: 'trim', start: 0, duration: 3 }, { type: 'fade', direction: 'out', duration: 10 })));
      expect(filtersOf(chainTo(args, 'vout'))).toEqual(['fade=t=out:st=0:d=3']);
    });
  });

  describe('encoders', () => {
    it('maps h264 to libx264 with preset and CRF 23 by default, in yuv420p', () => {
      const args = convertArgs(aConvertSpec());
      expect(after(args, '-c:v')).toBe('libx264');
      expect(after(args, '-preset')).toBe('medium');
      expect(after(args, '-crf')).toBe('23');
      expect(after(args, '-pix_fmt')).toBe('yuv420p');
      expect(hasSeq(args, ['-map', '[vout]'])).toBe(true);
    });

    it.each([
      ['mp4', true],
      ['mov', true],
      ['mkv', false],
    ] as const)('maps h265 in %s to libx265, tagged hvc1: %s', (container, tagged) => {
      const args = convertArgs(aConvertSpec(format(container), video({ codec: 'h265' })));
      expect(after(args, '-c:v')).toBe('libx265');
      expect(after(args, '-crf')).toBe('28');
      expect(hasSeq(args, ['-tag:v', 'hvc1']), `hvc1 tag in ${container}`).toBe(tagged);
    });

    it('maps vp9 with a CRF to libvpx-vp9 in constant-quality mode (-b:v 0)', () => {
      const args = convertArgs(aConvertSpec(format('webm'), video({ codec: 'vp9', crf: 31 })));
      expect(after(args, '-c:v')).toBe('libvpx-vp9');
      expect(after(args, '-crf')).toBe('31');
      expect(after(args, '-b:v'), 'libvpx needs -b:v 0 for pure CRF').toBe('0');
      expect(after(args, '-c:a'), 'webm audio defaults to opus').toBe('libopus');
    });

    it('maps vp9 with a bitrate to a target bitrate and no CRF', () => {
      const args = convertArgs(aConvertSpec(format('webm'), video({ codec: 'vp9', bitrate: 2_000_000 })));
      expect(allAfter(args, '-b:v')).toEqual(['2000000']);
      expect(args).not.toContain('-crf');
    });

    it('maps av1 to libsvtav1 when the build has it', () => {
      const args = convertArgs(aConvertSpec(video({ codec: 'av1' })));
      expect(after(args, '-c:v')).toBe('libsvtav1');
    });

    it('maps av1 to libaom-av1 when libsvtav1 is missing', () => {
      const args = convertArgs(aConvertSpec(video({ codec: 'av1' })), encoders('libx264', 'libaom-av1', 'aac'));
      expect(after(args, '-c:v')).toBe('libaom-av1');
      expect(after(args, '-b:v'), 'libaom needs -b:v 0 for CRF').toBe('0');
    });

    it('uses a video bitrate instead of a CRF when one is given', () => {
      const args = convertArgs(aConvertSpec(video({ bitrate: 3_500_000 })));
      expect(allAfter(args, '-b:v')).toEqual(['3500000']);
      expect(args).not.toContain('-crf');
    });

    it.each([
      ['cpu', 'nvenc', 'h264_nvenc', false],
      ['nvdec', 'nvenc', 'h264_nvenc', true],
      ['nvdec', 'cpu', 'libx264', true],
      ['cpu', 'cpu', 'libx264', false],
    ] as const)('with decode %s and encode %s uses %s, -hwaccel cuda: %s', (decode, encode, encoder, hwaccel) => {
      const args = convertArgs(aConvertSpec(), accel(decode, encode));
      expect(after(args, '-c:v')).toBe(encoder);
      expect(hasSeq(args, ['-hwaccel', 'cuda']), `-hwaccel cuda with decode ${decode}`).toBe(hwaccel);
      if (hwaccel) expect(args.indexOf('-hwaccel'), '-hwaccel is an input option: before -i').toBeLessThan(args.indexOf('-i'));
      expect(after(args, '-pix_fmt')).toBe(encode === 'nvenc' ? 'nv12' : 'yuv420p');
    });

    it('maps h265 on NVENC to hevc_nvenc', () => {
      expect(after(convertArgs(aConvertSpec(video({ codec: 'h265' })), accel('cpu', 'nvenc')), '-c:v')).toBe('hevc_nvenc');
    });

    it('copies video with -c:v copy and no video filter chain', () => {
      const args = convertArgs(aConvertSpec(format('mkv'), video({ codec: 'copy' })));
      expect(hasSeq(args, ['-map', '0:v:0', '-c:v', 'copy'])).toBe(true);
      const graph = after(args, '-filter_complex') ?? '';
      expect(graph, 'no filter may touch copied video').not.toContain('0:v');
      expect(graph).not.toContain('vout');
    });

    it('copies audio with -c:a copy and no audio filter chain', () => {
      const args = convertArgs(aConvertSpec(audio({ codec: 'copy' })));
      expect(hasSeq(args, ['-map', '0:a:0', '-c:a', 'copy'])).toBe(true);
      expect(graphOf(args)).not.toContain('0:a');
    });
  });

  describe('audio-only and image outputs', () => {
    it('maps no video for an mp3 output', () => {
      const plan = convert(aConvertSpec(format('mp3')));
      const args = only(plan);
      expect(args).not.toContain('-c:v');
      expect(hasSeq(args, ['-map', '[vout]'])).toBe(false);
      expect(graphOf(args)).not.toContain('0:v');
      expect(after(args, '-c:a')).toBe('libmp3lame');
      expect(after(args, '-b:a')).toBe('192000');
      expect(after(args, '-f')).toBe('mp3');
    });

    it.each([
      ['m4a', 'aac', 'ipod'],
      ['wav', 'pcm_s16le', 'wav'],
      ['flac', 'flac', 'flac'],
      ['ogg', 'libopus', 'ogg'],
    ] as const)('writes %s with %s through the %s muxer and no video', (container, encoder, muxer) => {
      const args = convertArgs(aConvertSpec(format(container)));
      expect(after(args, '-c:a')).toBe(encoder);
      expect(args).not.toContain('-c:v');
      expect(args.at(-4)).toBe(muxer);
    });

    it.each([
      ['an mp3 output', [format('mp3')], []],
      ['an mp4 from a video-less input', [], [info(audioOnly)]],
    ] as [string, SpecMod[], CtxMod[]][])('shortens the audio of %s by a speed factor, like a video output', (_name, specMods, ctxMods) => {
      const plan = convert(aConvertSpec(...specMods, ops({ type: 'speed', factor: 2 })), ...ctxMods);
      expect(filtersOf(chainTo(only(plan), 'aout'))).toEqual(['atempo=2']);
      expect(plan.outputSeconds, '60 s of audio at 2x is 30 s').toBe(30);
      expect(plan.steps[0]?.expectedSeconds, 'progress must count to 30 s, or it stalls at 50 %').toBe(30);
    });

    it('converts a video-less input (an mp3) to an mp4 with audio only', () => {
      const args = convertArgs(aConvertSpec(), info(audioOnly));
      expect(args).not.toContain('-c:v');
      expect(after(args, '-c:a')).toBe('aac');
    });

    it('refuses an audio output from a silent input', () => {
      const f = failure(() => convert(aConvertSpec(format('mp3')), info(silent)));
      expect(f.code).toBe('INVALID_INPUT');
    });

    it('refuses a gif from an input without video', () => {
      expect(() => convert(aConvertSpec(format('gif')), info(audioOnly))).toThrow(JobFailure);
    });

    it('refuses a video output from a still image with no audio', () => {
      expect(() => convert(aConvertSpec(), info(stillImage))).toThrow(JobFailure);
    });

    it('makes a gif in one pass with palettegen and paletteuse, at most 15 fps, looping, without audio', () => {
      const args = convertArgs(aConvertSpec(format('gif'), ops({ type: 'scale', width: 480 })));
      const chains = chainsOf(graphOf(args));
      expect(filtersOf(chains.get('pre') ?? '')).toEqual(['scale=w=480:h=270', 'fps=fps=15']);
      expect(chains.get('pb'), 'the frames are split once: one branch for the palette, one to map').toBe('[pre]split[pa][pb]');
      expect(chains.get('pal')).toMatch(/^\[pa\]palettegen=/);
      expect(chains.get('vout')).toMatch(/^\[pb\]\[pal\]paletteuse=/);
      expect(hasSeq(args, ['-map', '[vout]', '-c:v', 'gif'])).toBe(true);
      expect(hasSeq(args, ['-loop', '0'])).toBe(true);
      expect(args).not.toContain('-c:a');
      expect(graphOf(args)).not.toContain('0:a');
    });
  });

  describe('loudness normalization', () => {
    const m: LoudnessMeasurement = { input_i: -21.75, input_tp: -18.06, input_lra: 0, input_thresh: -31.75, target_offset: 0.05 };

    it('puts the measured loudnorm, a resample back to the output rate and the layout first in the audio chain', () => {
      const args = convertArgs(aConvertSpec(audio({ normalize: true, sampleRate: '44100', channels: 1 }), ops({ type: 'speed', factor: 2 })), measured(m));
      const fs = filtersOf(chainTo(args, 'aout'));
      expect(fs.map((f) => f.split('=')[0])).toEqual(['loudnorm', 'aresample', 'aformat', 'atempo']);
      expect(fs[1]).toBe('aresample=44100');
      expect(fs[2]).toBe('aformat=channel_layouts=mono');
      expect(after(args, '-ar')).toBe('44100');
    });

    it('resamples to the input rate and keeps the input layout when neither is requested', () => {
      const args = convertArgs(aConvertSpec(audio({ normalize: true })), measured(m));
      expect(filtersOf(chainTo(args, 'aout')).slice(1)).toEqual(['aresample=48000', 'aformat=channel_layouts=stereo']);
    });

    it('refuses to plan a normalized convert before loudness was measured', () => {
      expect(() => convert(aConvertSpec(audio({ normalize: true })))).toThrow(/loudness must be measured/);
    });
  });

  describe('with hostile file names', () => {
    // Names a user may legitimately store: the schema allows any characters in paths under /storage/.
    const crafted = [
      '0.1,drawtext=textfile=/etc/passwd',
      'a;b',
      '[x]',
      "it's",
      'say "hi"',
      'a:b=c',
      'with space',
      '\\,escaped',
      'movie=evil.mp4[e];[e]',
    ];
    const specs: [string, (p: string) => MediaJobSpec][] = [
      ['a plain transcode', (p) => aConvertSpec((s) => void (s.input.path = p))],
      ['trim, scale and fades', (p) => aConvertSpec((s) => void (s.input.path = p), ops({ type: 'trim', start: 1, duration: 5 }, { type: 'scale', width: 640 }, { type: 'fade', direction: 'out', duration: 1 }))],
      ['a watermark named the same way', (p) => aConvertSpec((s) => void (s.input.path = p), ops(watermarkOp({ image: `${p}.png` })))],
      ['a gif', (p) => aConvertSpec((s) => void (s.input.path = p), format('gif', `${p}.gif`))],
      ['an mp3 at speed 2', (p) => aConvertSpec((s) => void (s.input.path = p), format('mp3', `${p}.mp3`), ops({ type: 'speed', factor: 2 }))],
    ];

    it.each(crafted.flatMap((c) => specs.map(([name, make]) => [c, name, make] as const)))(
      "keeps '%s' out of the filter graph in %s: it only appears as file:<host path>",
      (c, _name, make) => {
        const storagePath = `/storage/in/${c}/${c}.mp4`;
        const spec = make(storagePath);
        const ctx = aContext(spec, (x) => void (x.staging = `${hostRoot}/out/${c}/.staging ${c}.tmp`));
        const args = only(planConvert(ctx));
        const graph = after(args, '-filter_complex') ?? '';
        expect(graph.includes(c), `'${c}' reached the filter graph: ${graph}`).toBe(false);
        expect(graph.includes(hostRoot), 'a host path reached the filter graph').toBe(false);
        const carrying = args.filter((a) => a.includes(c));
        expect(carrying.length, 'the crafted name should appear in the input and output arguments').toBeGreaterThanOrEqual(2);
        for (const a of carrying) {
          expect(a.startsWith(`file:${hostRoot}/`), `argv element '${a}' carries '${c}' but is not file:<host path>`).toBe(true);
          const i = args.indexOf(a);
          const whitelisted = args.lastIndexOf('-protocol_whitelist', i);
          expect(whitelisted >= 0 && args[whitelisted + 1] === 'file', `'${a}' is not under -protocol_whitelist file`).toBe(true);
        }
        inputsOf(args);
      },
    );
  });
});

// ---- thumbnails -------------------------------------------------------------------------------

function thumbSpec(op: OperationOf<'thumbnail'>, before: Operation[] = [], f: OutputSpec['format'] = 'jpg'): MediaJobSpec {
  return aConvertSpec(format(f, f === 'jpg' && (op.count !== undefined || op.interval !== undefined) ? '/storage/out/thumbs' : `/storage/out/thumb.${f}`), ops(...before, op));
}
const thumb = (over: Partial<OperationOf<'thumbnail'>> = {}): OperationOf<'thumbnail'> => ({ type: 'thumbnail', quality: 'high', ...over });

describe('planThumbnail', () => {
  it('takes a single frame at the timestamp with -ss before -i and -frames:v 1', () => {
    const op = thumb({ timestamp: 12.5, width: 320 });
    const args = only(planThumbnail(aContext(thumbSpec(op)), op));
    const [main] = checkCommon(args, [`${hostRoot}/in/video.mp4`]);
    expect(main?.options).toEqual(['-ss', '12.5']);
    expect(hasSeq(args, ['-frames:v', '1'])).toBe(true);
    expect(filtersOf(chainTo(args, 'vout'))).toEqual(['scale=w=320:h=180']);
    expect(args.at(-1)).toBe(`file:${hostRoot}/out/.kubeff-staging-job1`);
  });

  it('adds the trim start to the timestamp and drops the trim duration', () => {
    const op = thumb({ timestamp: 2 });
    const args = only(planThumbnail(aContext(thumbSpec(op, [{ type: 'trim', start: 30, duration: 10 }])), op));
    expect(inputsOf(args)[0]?.options).toEqual(['-ss', '32']);
  });

  it('takes a single thumbnail at 10 % of the length when no time is given', () => {
    const op = thumb();
    expect(inputsOf(only(planThumbnail(aContext(thumbSpec(op)), op)))[0]?.options).toEqual(['-ss', '6']);
  });

  it('refuses a timestamp past the end, naming the field', () => {
    const op = thumb({ timestamp: 61 });
    const f = failure(() => planThumbnail(aContext(thumbSpec(op)), op));
    expect(f.field).toBe('operations[0].timestamp');
  });

  it.each([
    ['an interval of 2 s', thumb({ interval: 2 }), '1000/2000', 30],
    ['an interval of 0.5 s', thumb({ interval: 0.5 }), '1000/500', 100],
    ['a count of 5', thumb({ count: 5 }), '1000/12000', 5],
    ['a count of 7', thumb({ count: 7 }), '1000/8571', 7],
  ])('takes a series with %s through fps=1000/<ms>', (_name, op, rate, frames) => {
    const args = only(planThumbnail(aContext(thumbSpec(op)), op));
    expect(filtersOf(chainTo(args, 'vout'))[0]).toBe(`fps=fps=${rate}:round=down`);
    expect(after(args, '-frames:v')).toBe(String(frames));
    expect(args.at(-1)).toBe(`file:${hostRoot}/out/.kubeff-staging-job1/thumb_%04d.jpg`);
    expect(inputsOf(args)[0]?.options, 'a series decodes from the start').toEqual([]);
  });

  it.each([
    ['jpg', ['-c:v', 'mjpeg', '-q:v', '2']],
    ['png', ['-c:v', 'png']],
    ['webp', ['-c:v', 'libwebp', '-quality', '90']],
  ] as const)('encodes a high-quality %s thumbnail with %j', (f, enc) => {
    const op = thumb({ timestamp: 1 });
    expect(hasSeq(only(planThumbnail(aContext(thumbSpec(op, [], f)), op)), enc)).toBe(true);
  });

  it('applies earlier operations (crop) before the thumbnail scale', () => {
    const op = thumb({ timestamp: 1, height: 90 });
    const args = only(planThumbnail(aContext(thumbSpec(op, [{ type: 'crop', width: 960, height: 540, x: 0, y: 0 }])), op));
    expect(filtersOf(chainTo(args, 'vout'))).toEqual(['crop=w=960:h=540:x=0:y=0', 'scale=w=160:h=90']);
  });

  it('refuses a watermark together with thumbnails', () => {
    const op = thumb({ timestamp: 1 });
    expect(() => planThumbnail(aContext(thumbSpec(op, [watermarkOp()])), op)).toThrow(/watermark cannot be combined/);
  });

  it('spaces a series evenly from the trimmed start', () => {
    expect(seriesLayout(thumb({ count: 4 }), 20)).toEqual({ interval: 5, times: [0, 5, 10, 15] });
    expect(seriesLayout(thumb({ interval: 7 }), 20).times).toEqual([0, 7]);
  });
});

describe('gridLayout', () => {
  it.each([
    [3, 4, 1280, 720, 60],
    [2, 2, 640, 360, 10],
    [3, 3, 1000, 1000, 90],
    [5, 7, 1921, 1081, 600],
    [1, 10, 3000, 170, 5],
    [20, 20, 8192, 8192, 7200],
  ])('makes even cells for %i rows × %i cols in %ix%i, and the sheet is cells × grid', (rows, cols, width, height, seconds) => {
    const l = gridLayout({ type: 'thumbnail_grid', rows, cols, width, height }, seconds);
    expect(l.cell.width % 2, 'cell width is even').toBe(0);
    expect(l.cell.height % 2, 'cell height is even').toBe(0);
    expect(l.sheet).toEqual({ width: l.cell.width * cols, height: l.cell.height * rows });
    expect(l.sheet.width).toBeLessThanOrEqual(width);
    expect(l.sheet.height).toBeLessThanOrEqual(height);
    expect(width - l.sheet.width, 'the sheet uses the width it was given, less rounding').toBeLessThan(2 * cols);
    expect(l.interval).toBeCloseTo(seconds / (rows * cols), 9);
  });

  it('never spaces cells closer than one frame at 25 fps', () => {
    expect(gridLayout({ type: 'thumbnail_grid', rows: 10, cols: 10, width: 2000, height: 2000 }, 1).interval).toBe(0.04);
  });

  it('refuses a grid too small for its cells', () => {
    expect(() => gridLayout({ type: 'thumbnail_grid', rows: 20, cols: 20, width: 30, height: 30 }, 10)).toThrow(JobFailure);
  });
});

describe('planGrid', () => {
  const grid: OperationOf<'thumbnail_grid'> = { type: 'thumbnail_grid', rows: 3, cols: 4, width: 1280, height: 720 };

  it('samples evenly, fits each frame inside its cell, pads and tiles into one image', () => {
    const spec = aConvertSpec(format('jpg', '/storage/out/sheet'), ops(grid));
    const sheet = `${hostRoot}/out/.kubeff-staging-job1/sheet.jpg`;
    const args = only(planGrid(aContext(spec), grid, sheet));
    checkCommon(args, [`${hostRoot}/in/video.mp4`]);
    expect(filtersOf(chainTo(args, 'vout'))).toEqual([
      'fps=fps=1000/5000:round=down',
      'scale=w=320:h=180',
      'pad=w=320:h=240:x=(ow-iw)/2:y=(oh-ih)/2',
      'tile=layout=4x3',
    ]);
    expect(hasSeq(args, ['-frames:v', '1'])).toBe(true);
    expect(args.at(-1)).toBe(`file:${sheet}`);
  });

  it('samples the trimmed part only', () => {
    const spec = aConvertSpec(format('jpg', '/storage/out/sheet'), ops({ type: 'trim', start: 30, duration: 24 }, grid));
    const args = only(planGrid(aContext(spec), grid, `${hostRoot}/out/sheet.jpg`));
    expect(inputsOf(args)[0]?.options).toEqual(['-ss', '30', '-t', '24']);
    expect(filtersOf(chainTo(args, 'vout'))[0]).toBe('fps=fps=1000/2000:round=down');
  });
});

describe('spriteVtt', () => {
  const grid: OperationOf<'thumbnail_grid'> = { type: 'thumbnail_grid', rows: 2, cols: 3, width: 960, height: 360 };

  it('starts with WEBVTT and has one cue per cell with its #xywh and time range', () => {
    const layout = gridLayout(grid, 60);
    const vtt = spriteVtt(grid, layout, 60, 'sprite.jpg');
    const lines = vtt.split('\n');
    expect(lines[0]).toBe('WEBVTT');
    expect(lines[1]).toBe('');
    const cues = vtt.split('\n\n').slice(1).map((c) => c.trim()).filter((c) => c);
    expect(cues).toEqual([
      '00:00:00.000 --> 00:00:10.000\nsprite.jpg#xywh=0,0,320,180',
      '00:00:10.000 --> 00:00:20.000\nsprite.jpg#xywh=320,0,320,180',
      '00:00:20.000 --> 00:00:30.000\nsprite.jpg#xywh=640,0,320,180',
      '00:00:30.000 --> 00:00:40.000\nsprite.jpg#xywh=0,180,320,180',
      '00:00:40.000 --> 00:00:50.000\nsprite.jpg#xywh=320,180,320,180',
      '00:00:50.000 --> 00:01:00.000\nsprite.jpg#xywh=640,180,320,180',
    ]);
  });

  it('writes hours and milliseconds', () => {
    const one: OperationOf<'thumbnail_grid'> = { type: 'thumbnail_grid', rows: 1, cols: 3, width: 600, height: 100 };
    const vtt = spriteVtt(one, gridLayout(one, 10000.5), 10000.5, 's.jpg');
    expect(vtt).toContain('00:00:00.000 --> 00:55:33.500');
    expect(vtt).toContain('01:51:07.000 --> 02:46:40.500');
  });

  it('stops at the end of a video shorter than the sheet', () => {
    const layout = gridLayout(grid, 0.1);
    const vtt = spriteVtt(grid, layout, 0.1, 'sprite.jpg');
    const cues = vtt.split('\n').filter((l) => l.includes('-->'));
    expect(cues, 'cells at 0.04 s steps: 0, 0.04, 0.08').toHaveLength(3);
    expect(cues.at(-1)).toBe('00:00:00.080 --> 00:00:00.100');
  });
});

// ---- stream -----------------------------------------------------------------------------------

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
const stream = (spec: MediaJobSpec, ...mods: CtxMod[]) => planStream(aContext(spec, (c) => void (c.staging = `${hostRoot}/out/stream/.staging`), ...mods));

describe('planStream', () => {
  it('decodes once and feeds every rendition through ONE split=N', () => {
    const plan = stream(aStreamSpec());
    const args = only(plan);
    checkCommon(args, [`${hostRoot}/in/video.mp4`]);
    const graph = graphOf(args);
    expect(graph.match(/split=/g), 'one split').toHaveLength(1);
    expect(graph.startsWith('[0:v:0]split=3[s0][s1][s2];')).toBe(true);
    expect(graph.match(/\[0:v:0\]/g), 'the input video is read once').toHaveLength(1);
    const chains = chainsOf(graph);
    expect([chains.get('v0'), chains.get('v1'), chains.get('v2')]).toEqual([
      '[s0]scale=w=1920:h=1080[v0]', '[s1]scale=w=1280:h=720[v1]', '[s2]scale=w=854:h=480[v2]',
    ]);
    expect(allAfter(args, '-map')).toEqual(['[v0]', '[v1]', '[v2]', '0:a:0']);
    expect(plan.steps[0]?.cwd, 'FFmpeg writes relative names inside the staging folder').toBe(`${hostRoot}/out/stream/.staging`);
  });

  it('sets per-rendition bitrate, maxrate and bufsize, with no shared -b:v', () => {
    const args = only(stream(aStreamSpec()));
    for (const [i, b] of [5_000_000, 2_500_000, 1_000_000].entries()) {
      expect(after(args, `-b:v:${i}`), `rendition ${i} bitrate`).toBe(String(b));
      expect(after(args, `-maxrate:v:${i}`)).toBe(String(Math.round(b * 1.1)));
      expect(after(args, `-bufsize:v:${i}`)).toBe(String(b * 2));
    }
    expect(args, 'a shared -b:v would override the per-rendition rates').not.toContain('-b:v');
    expect(after(args, '-c:v')).toBe('libx264');
    expect(after(args, '-preset')).toBe('veryfast');
  });

  it('aligns keyframes on segment edges and disables scene-cut keyframes', () => {
    const args = only(stream(aStreamSpec({ segmentDuration: 4 })));
    expect(after(args, '-force_key_frames'), 'the first frame, then the first of each later segment').toBe('expr:isnan(prev_forced_t)+gt(floor(t/4),floor(prev_forced_t/4))');
    expect(hasSeq(args, ['-sc_threshold', '0'])).toBe(true);
    expect(after(args, '-hls_time')).toBe('4');
  });

  it('writes HLS with an audio group and named variants in var_stream_map', () => {
    const args = only(stream(aStreamSpec()));
    expect(after(args, '-f')).toBe('hls');
    expect(after(args, '-var_stream_map')).toBe('a:0,agroup:audio,name:audio v:0,agroup:audio,name:1080p v:1,agroup:audio,name:720p v:2,agroup:audio,name:480p');
    expect(after(args, '-master_pl_name')).toBe(hlsMaster);
    expect(after(args, '-hls_segment_filename')).toBe('%v/segment_%05d.ts');
    expect(args.at(-1)).toBe('%v/index.m3u8');
    expect(hasSeq(args, ['-c:a', 'aac', '-b:a', '128000'])).toBe(true);
  });

  it('writes HLS without an audio group for a silent input', () => {
    const args = only(stream(aStreamSpec(), info(silent)));
    expect(after(args, '-var_stream_map')).toBe('v:0,name:1080p v:1,name:720p v:2,name:480p');
    expect(args).not.toContain('0:a:0');
    expect(args).not.toContain('-c:a');
  });

  it('writes DASH with video and audio adaptation sets', () => {
    const args = only(stream(aStreamSpec({ format: 'dash' })));
    expect(after(args, '-f')).toBe('dash');
    expect(after(args, '-adaptation_sets')).toBe('id=0,streams=v id=1,streams=a');
    expect(after(args, '-seg_duration')).toBe('6');
    expect(args.at(-1)).toBe(dashManifest);
    expect(args).not.toContain('-var_stream_map');
  });

  it('writes DASH with only a video adaptation set for a silent input', () => {
    expect(after(only(stream(aStreamSpec({ format: 'dash' }), info(silent))), '-adaptation_sets')).toBe('id=0,streams=v');
  });

  it('drops renditions above the source size', () => {
    const plan = stream(aStreamSpec(), info(sized(1280, 720)));
    expect(plan.renditions.map((r) => r.name)).toEqual(['720p', '480p']);
    expect(plan.dropped).toEqual(['1080p']);
    const args = only(plan);
    expect(graphOf(args)).toContain('split=2[s0][s1]');
    expect(after(args, '-b:v:0')).toBe('2500000');
    expect(args).not.toContain('-b:v:2');
  });

  it('keeps the smallest rendition when every one is above the source size, without a split', () => {
    const plan = stream(aStreamSpec(), info(sized(320, 180)));
    expect(plan.renditions.map((r) => r.name)).toEqual(['480p']);
    expect(plan.dropped.sort()).toEqual(['1080p', '720p']);
    const graph = graphOf(only(plan));
    expect(graph).not.toContain('split');
    expect(graph.startsWith('[0:v:0]null[s0]')).toBe(true);
  });

  it('uses NVENC without scene-cut options and decodes with CUDA when NVDEC is chosen', () => {
    const args = only(stream(aStreamSpec({ videoCodec: 'h265' }), accel('nvdec', 'nvenc')));
    expect(after(args, '-c:v')).toBe('hevc_nvenc');
    expect(hasSeq(args, ['-hwaccel', 'cuda'])).toBe(true);
    expect(args).not.toContain('-sc_threshold');
    expect(after(args, '-pix_fmt')).toBe('nv12');
  });

  it('refuses an input without video', () => {
    expect(() => stream(aStreamSpec(), info(audioOnly))).toThrow(JobFailure);
    expect(() => stream(aStreamSpec(), info(stillImage))).toThrow(JobFailure);
  });
});

describe('renditions', () => {
  it.each([
    [{ width: 1920, height: 1080 }, ['1080p', '720p', '480p'], []],
    [{ width: 1280, height: 720 }, ['720p', '480p'], ['1080p']],
    [{ width: 1920, height: 800 }, ['720p', '480p'], ['1080p']],
    [{ width: 640, height: 360 }, ['480p'], ['1080p', '720p']],
  ])('from a %j source keeps %j and drops %j', (source, keep, dropped) => {
    const variants = [
      { name: '1080p', height: 1080, bitrate: 5_000_000 },
      { name: '720p', height: 720, bitrate: 2_500_000 },
      { name: '480p', height: 480, bitrate: 1_000_000 },
    ];
    const r = renditions(variants, source);
    expect(r.keep.map((k) => k.name)).toEqual(keep);
    expect(r.dropped.sort()).toEqual([...dropped].sort());
    expect(r.keep.length, 'at least one rendition is kept').toBeGreaterThan(0);
    for (const k of r.keep) expect(k.size.width % 2 + (k.size.height % 2), `${k.name} has an odd size`).toBe(0);
  });
});

// ---- analyze ----------------------------------------------------------------------------------

function anAnalyzeSpec(metrics: ('vmaf' | 'psnr' | 'ssim')[] = ['vmaf', 'psnr', 'ssim']): MediaJobSpec {
  return {
    type: 'analyze', input: { path: '/storage/in/encoded.mp4' }, operations: [],
    analyze: { reference: '/storage/in/original.mp4', metrics },
    options: { priority: 'normal', hardwareAcceleration: 'auto' },
  };
}
const withReference = (...m: InfoMod[]): CtxMod => (c) => {
  c.reference = `${hostRoot}/in/original.mp4`;
  c.referenceInfo = aMediaInfo(...m);
};
const tool = (vmafStyle: AnalyzeTool['vmafStyle'] | 'none' = 'model'): AnalyzeTool => ({ ffmpeg: '/opt/vmaf/ffmpeg', vmafStyle: vmafStyle === 'none' ? undefined : vmafStyle });

describe('planAnalyze', () => {
  it('reads the distorted input then the reference, both through the file protocol, in the scratch folder', () => {
    const plan = planAnalyze(aContext(anAnalyzeSpec(), withReference()), tool());
    const args = only(plan);
    checkCommon(args, [`${hostRoot}/in/encoded.mp4`, `${hostRoot}/in/original.mp4`]);
    expect(plan.steps[0]?.cwd).toBe('/tmp/kubeff-job1-scratch');
    expect(plan.steps[0]?.ffmpeg, 'the VMAF-capable FFmpeg runs it').toBe('/opt/vmaf/ffmpeg');
  });

  it('does not scale when the sizes match', () => {
    const graph = graphOf(only(planAnalyze(aContext(anAnalyzeSpec(), withReference()), tool())));
    expect(graph).not.toContain('scale');
    expect(graph.split(';')[0]).toBe('[0:v:0]format=pix_fmts=yuv420p,setpts=PTS-STARTPTS,split=3[d0][d1][d2]');
    expect(graph.split(';')[1]).toBe('[1:v:0]format=pix_fmts=yuv420p,setpts=PTS-STARTPTS,split=3[r0][r1][r2]');
  });

  it('scales the distorted video to the reference size when they differ', () => {
    const graph = graphOf(only(planAnalyze(aContext(anAnalyzeSpec(), info(sized(1280, 720)), withReference()), tool())));
    const [dist, ref] = graph.split(';');
    expect(dist).toBe('[0:v:0]scale=w=1920:h=1080:flags=bicubic,format=pix_fmts=yuv420p,setpts=PTS-STARTPTS,split=3[d0][d1][d2]');
    expect(ref, 'the reference is never scaled').not.toContain('scale');
  });

  it('uses model_path with libvmaf 1.x', () => {
    const graph = graphOf(only(planAnalyze(aContext(anAnalyzeSpec(['vmaf']), withReference()), tool('model_path'))));
    expect(chainsOf(graph).get('m0')).toBe(`[d0][r0]libvmaf=model_path=${VmafModelFiles.model_path}:log_path=${MetricFiles.vmaf}:log_fmt=json:n_threads=2[m0]`);
  });

  it('uses model=path= with libvmaf 2.x', () => {
    const graph = graphOf(only(planAnalyze(aContext(anAnalyzeSpec(['vmaf']), withReference()), tool('model'))));
    expect(chainsOf(graph).get('m0')).toBe(`[d0][r0]libvmaf=model=path=${VmafModelFiles.model}:log_path=${MetricFiles.vmaf}:log_fmt=json:n_threads=2[m0]`);
  });

  it('names stats and log files relatively, so no path enters the filter graph', () => {
    const graph = graphOf(only(planAnalyze(aContext(anAnalyzeSpec(), withReference()), tool())));
    expect(graph).toContain('psnr=stats_file=psnr.log');
    expect(graph).toContain('ssim=stats_file=ssim.log');
    expect(graph, `a path in the graph: ${graph}`).not.toContain('/');
  });

  it.each([
    [['psnr'] as const],
    [['ssim', 'psnr'] as const],
    [['vmaf', 'psnr', 'ssim'] as const],
  ])('writes one null output per metric for %j', (metrics) => {
    const args = only(planAnalyze(aContext(anAnalyzeSpec([...metrics]), withReference()), tool()));
    const outputs = args.flatMap((a, i) => (a === '-map' ? [args.slice(i, i + 5).join(' ')] : []));
    expect(outputs).toEqual(metrics.map((_, i) => `-map [m${i}] -f null -`));
    const chains = chainsOf(graphOf(args));
    metrics.forEach((m, i) => expect(namesOf(chains.get(`m${i}`) ?? ''), `metric ${i}`).toEqual([m === 'vmaf' ? 'libvmaf' : m]));
  });

  it('splits nothing for a single metric', () => {
    const graph = graphOf(only(planAnalyze(aContext(anAnalyzeSpec(['psnr']), withReference()), tool())));
    expect(graph).not.toContain('split');
    expect(graph).toBe('[0:v:0]format=pix_fmts=yuv420p,setpts=PTS-STARTPTS[d0];[1:v:0]format=pix_fmts=yuv420p,setpts=PTS-STARTPTS[r0];[d0][r0]psnr=stats_file=psnr.log[m0]');
  });

  it('counts progress to the shorter of the two files', () => {
    const plan = planAnalyze(aContext(anAnalyzeSpec(), info(lasting(30)), withReference(lasting(29.5))), tool());
    expect(plan.steps[0]?.expectedSeconds).toBe(29.5);
  });

  it('refuses VMAF without a libvmaf FFmpeg as an unsupported capability (69)', () => {
    const f = failure(() => planAnalyze(aContext(anAnalyzeSpec(), withReference()), tool('none')));
    expect({ code: f.code, exitCode: f.exitCode }).toEqual({ code: 'UNSUPPORTED_CAPABILITY', exitCode: ExitCode.unavailable });
  });

  it('measures PSNR without libvmaf', () => {
    expect(() => planAnalyze(aContext(anAnalyzeSpec(['psnr', 'ssim']), withReference()), tool('none'))).not.toThrow();
  });

  it('refuses a reference without video, naming the reference', () => {
    const f = failure(() => planAnalyze(aContext(anAnalyzeSpec(), withReference(audioOnly)), tool()));
    expect(f.field).toBe('reference');
  });
});

// ---- loudnorm ---------------------------------------------------------------------------------

// The end of FFmpeg 5.1's stderr for `-af loudnorm=I=-23:TP=-1:LRA=7:print_format=json`.
const loudnormTail = `Output #0, null, to 'pipe:':
  Metadata:
    encoder         : Lavf59.27.100
  Stream #0:0: Audio: pcm_s16le, 192000 Hz, mono, s16, 3072 kb/s
size=N/A time=00:00:02.00 bitrate=N/A speed=38.1x
video:0kB audio:750kB subtitle:0kB other streams:0kB global headers:0kB muxing overhead: unknown
[Parsed_loudnorm_0 @ 0x55ae32945ec0] 
{
	"input_i" : "-21.75",
	"input_tp" : "-18.06",
	"input_lra" : "0.00",
	"input_thresh" : "-31.75",
	"output_i" : "-23.05",
	"output_tp" : "-19.31",
	"output_lra" : "0.00",
	"output_thresh" : "-33.05",
	"normalization_type" : "linear",
	"target_offset" : "0.05"
}`;

const silentTail = `[Parsed_loudnorm_0 @ 0x564ec9e86a00] 
{
	"input_i" : "-inf",
	"input_tp" : "-inf",
	"input_lra" : "0.00",
	"input_thresh" : "-70.00",
	"output_i" : "-inf",
	"output_tp" : "-inf",
	"output_lra" : "0.00",
	"output_thresh" : "-70.00",
	"normalization_type" : "linear",
	"target_offset" : "inf"
}`;

describe('loudnorm', () => {
  it('parses the JSON block at the end of a real stderr tail', () => {
    const values = parseLoudnorm(loudnormTail);
    expect(values).toMatchObject({ input_i: '-21.75', input_tp: '-18.06', input_lra: '0.00', input_thresh: '-31.75', target_offset: '0.05', normalization_type: 'linear' });
  });

  it('turns the parsed values into a measurement', () => {
    expect(measurementFrom(parseLoudnorm(loudnormTail))).toEqual({ input_i: -21.75, input_tp: -18.06, input_lra: 0, input_thresh: -31.75, target_offset: 0.05 });
  });

  it('reports a transient failure when loudnorm printed nothing', () => {
    const f = failure(() => parseLoudnorm('Conversion failed!\n'));
    expect({ code: f.code, exitCode: f.exitCode }).toEqual({ code: 'PROCESSING_FAILED', exitCode: ExitCode.transient });
  });

  it('refuses silent audio (-inf) as INVALID_INPUT on output.audio.normalize', () => {
    const f = failure(() => measurementFrom(parseLoudnorm(silentTail)));
    expect({ code: f.code, exitCode: f.exitCode, field: f.field }).toEqual({ code: 'INVALID_INPUT', exitCode: ExitCode.invalidInput, field: 'output.audio.normalize' });
    expect(f.message).toMatch(/silent/);
  });

  it.each(['input_i', 'input_tp', 'input_lra', 'input_thresh', 'target_offset'])('refuses a measurement missing %s', (key) => {
    const values = parseLoudnorm(loudnormTail);
    delete values[key];
    expect(() => measurementFrom(values)).toThrow(JobFailure);
  });

  it('formats the measured values as plain numbers in the second-pass filter', () => {
    const [ln, resample, layout] = loudnormApply({ input_i: -21.75, input_tp: -18.06, input_lra: 0, input_thresh: -31.75, target_offset: 0.05 }, 48000, 2);
    expect(ln).toBe('loudnorm=I=-23:TP=-1:LRA=7:measured_I=-21.75:measured_TP=-18.06:measured_LRA=0:measured_thresh=-31.75:offset=0.05:linear=true:print_format=json');
    expect(resample).toBe('aresample=48000');
    expect(layout).toBe('aformat=channel_layouts=stereo');
  });

  it.each([
    [1, 'mono'],
    [2, 'stereo'],
    [6, '5.1'],
    [8, '7.1'],
  ])('names the layout of %i channels %s after loudnorm', (channels, layout) => {
    expect(loudnormApply({ input_i: -20, input_tp: -3, input_lra: 5, input_thresh: -30, target_offset: 0 }, 48000, channels).at(-1)).toBe(`aformat=channel_layouts=${layout}`);
  });

  it('never writes exponent notation for tiny or long measured values', () => {
    const [ln] = loudnormApply({ input_i: -70.000000001, input_tp: -0.0000001, input_lra: 1e-9, input_thresh: -80.123456789, target_offset: 5e-7 }, 44100, 2);
    expect(ln).not.toMatch(/\d[eE][+-]?\d/);
    expect(ln).toContain('measured_I=-70:');
    expect(ln).toContain('measured_thresh=-80.123457:');
  });

  it('aims at the EBU R128 targets', () => {
    expect(LoudnessTarget).toEqual({ I: -23, TP: -1, LRA: 7 });
  });

  it('measures the trimmed audio only, with the JSON report and no output file', () => {
    const spec = aConvertSpec(audio({ normalize: true }), ops({ type: 'trim', start: 10, duration: 20 }));
    const step = planLoudnessMeasure(aContext(spec));
    checkCommon(step.args, [`${hostRoot}/in/video.mp4`]);
    expect(inputsOf(step.args)[0]?.options).toEqual(['-ss', '10', '-t', '20']);
    expect(hasSeq(step.args, ['-map', '0:a:0', '-vn'])).toBe(true);
    expect(after(step.args, '-af')).toBe('loudnorm=I=-23:TP=-1:LRA=7:print_format=json');
    expect(step.args.slice(-3)).toEqual(['-f', 'null', '-']);
    expect(step.expectedSeconds).toBe(20);
  });
});

// ---- every planner ------------------------------------------------------------------------------

describe('every planner', () => {
  const input = `${hostRoot}/in/video.mp4`;
  const logo = `${hostRoot}/brand/logo.png`;
  const reference = `${hostRoot}/in/original.mp4`;
  const series = thumb({ interval: 5 });
  const single = thumb({ timestamp: 3 });
  const grid: OperationOf<'thumbnail_grid'> = { type: 'thumbnail_grid', rows: 2, cols: 2, width: 640, height: 360 };
  const cases: [string, () => string[], string[], 'file' | 'relative' | 'null'][] = [
    ['convert (defaults)', () => convertArgs(aConvertSpec()), [input], 'file'],
    ['convert with trim and watermark', () => convertArgs(aConvertSpec(ops({ type: 'trim', start: 2, duration: 4 }, watermarkOp()))), [input, logo], 'file'],
    ['convert to gif', () => convertArgs(aConvertSpec(format('gif'))), [input], 'file'],
    ['convert to mp3', () => convertArgs(aConvertSpec(format('mp3'))), [input], 'file'],
    ['convert with copy', () => convertArgs(aConvertSpec(format('mkv'), video({ codec: 'copy' }), audio({ codec: 'copy' }))), [input], 'file'],
    ['convert on NVDEC + NVENC', () => convertArgs(aConvertSpec(), accel('nvdec', 'nvenc')), [input], 'file'],
    ['a single thumbnail', () => only(planThumbnail(aContext(thumbSpec(single)), single)), [input], 'file'],
    ['a thumbnail series', () => only(planThumbnail(aContext(thumbSpec(series)), series)), [input], 'file'],
    ['a contact sheet', () => only(planGrid(aContext(aConvertSpec(format('jpg', '/storage/out/sheet'), ops(grid))), grid, `${hostRoot}/out/sheet.jpg`)), [input], 'file'],
    ['an HLS ladder', () => only(stream(aStreamSpec())), [input], 'relative'],
    ['a DASH ladder', () => only(stream(aStreamSpec({ format: 'dash' }))), [input], 'relative'],
    ['quality metrics', () => only(planAnalyze(aContext(anAnalyzeSpec(['vmaf', 'psnr', 'ssim']), withReference()), tool())), [`${hostRoot}/in/encoded.mp4`, reference], 'null'],
    ['the loudness measurement', () => planLoudnessMeasure(aContext(aConvertSpec(audio({ normalize: true })))).args, [input], 'null'],
  ];

  it.each(cases)('plans %s with file-only inputs, progress on stdout and a safe output', (_name, plan, inputs, output) => {
    const args = plan();
    checkCommon(args, inputs);
    expect(args.slice(0, 3), 'global options come first').toEqual(['-hide_banner', '-nostdin', '-y']);
    const last = args.at(-1) ?? '';
    if (output === 'null') {
      expect(args.slice(-3)).toEqual(['-f', 'null', '-']);
    } else {
      expect(args.at(-3), 'the output is under -protocol_whitelist file').toBe('-protocol_whitelist');
      expect(args.at(-2)).toBe('file');
      if (output === 'file') expect(last.startsWith(`file:${hostRoot}/out/`), `output '${last}'`).toBe(true);
      else expect(last.startsWith('/') || last.includes(':'), `stream output '${last}' must be relative to the staging folder`).toBe(false);
    }
    for (const a of args) expect(typeof a === 'string' && a.length > 0, 'no empty argv element').toBe(true);
  });
});
