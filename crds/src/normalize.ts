// Every request form of the Rendiff API turned into one canonical MediaJobSpec.
// Accepts both shorthands ("output": "mp4", "input": "/path") and both operation styles
// (flat fields, or fields under "params"); collects every problem with its field path.
import { parseBitrate } from './bitrate.ts';
import { ContainerRules, containerFromPath } from './containers.ts';
import { SpecError, type ErrorCode } from './errors.ts';
import { dropUndefined, Fields, isObject, describe, type Json, type JsonObject } from './fields.ts';
import { checkInputLocation, checkOutputLocation, locationKind, stripTrailingSlash } from './paths.ts';
import { parseResolution, type Size } from './resolution.ts';
import {
  AudioCodecValues,
  ContainerValues,
  Limits,
  MediaJobSpec,
  MetricValues,
  PixelFormatValues,
  PositionValues,
  PresetValues,
  ProfileValues,
  VideoCodecValues,
  WebhookEventValues,
  type AnalyzeSpec,
  type AudioSettings,
  type Container,
  type JobOptions,
  type Operation,
  type OutputSpec,
  type PerTitleLadder,
  type QualityGate,
  type StreamSpec,
  type Variant,
  type VideoSettings,
} from './spec.ts';
import { firstSpecError } from './spec-check.ts';
import { AudioCodecAliases, SampleRateValues, VideoCodecAliases, WebhookEventAliases } from './request.ts';
import { validateSpec } from './validate.ts';

export type RequestKind = 'convert' | 'stream' | 'analyze';

const videoCodecAliases: Record<string, (typeof VideoCodecValues)[number]> = VideoCodecAliases;
const audioCodecAliases: Record<string, (typeof AudioCodecValues)[number]> = AudioCodecAliases;

const optionKeys = ['priority', 'hardware_acceleration', 'webhook_url', 'webhook_events', 'timeout', 'timeout_seconds', 'presign_outputs', 'parallelism', 'chunk_seconds', 'verify', 'quality_gate'];

/** Normalizes a request body; throws SpecError listing every problem found. */
export function normalizeRequest(kind: RequestKind, body: unknown): MediaJobSpec {
  const f = new Fields();
  if (!isObject(body)) {
    f.add('INVALID_REQUEST', 'body', `must be a JSON object, got ${describe(body)}`);
    throw new SpecError(f.issues);
  }
  const trace: Trace = { ops: [], settings: new Map() };
  const spec =
    kind === 'convert' ? normalizeConvert(f, body, trace) : kind === 'stream' ? normalizeStream(f, body) : normalizeAnalyze(f, body);
  if (f.issues.length > 0 || spec === undefined) throw new SpecError(f.issues);
  // Semantic rules that need the whole spec (codec/container, conflicting operations), reported
  // at the field the client wrote, not at the canonical spec's.
  const semantic = validateSpec(spec).map((i) => ({ ...i, details: { ...i.details, field: requestField(i.details.field, trace) } }));
  if (semantic.length > 0) throw new SpecError(semantic);
  // Belt and braces: the canonical schema must hold for anything we produce.
  const schemaError = firstSpecError(spec);
  if (schemaError) {
    throw new SpecError([{ code: 'INVALID_REQUEST', message: schemaError.message, details: { field: schemaError.instancePath || 'body' } }]);
  }
  return spec;
}

/** Where each canonical operation and transcode setting came from in the request. */
interface Trace {
  ops: { field: string; at: (k: string) => string }[];
  settings: Map<string, string>;
}

function requestField(field: string, t: Trace): string {
  const m = /^operations\[(\d+)\](?:\.(\w+))?$/.exec(field);
  if (m) {
    const src = t.ops[Number(m[1])];
    if (!src) return field;
    const key = m[2];
    return key === undefined ? src.field : key === 'type' ? `${src.field}.type` : src.at(key);
  }
  return t.settings.get(field) ?? field;
}

function readInput(f: Fields, body: JsonObject): string | undefined {
  const v = body['input'];
  if (v === undefined) return f.add('INVALID_INPUT', 'input', 'is required', { suggestion: 'e.g. "input": "/storage/input/video.mp4"' });
  return readInputObject(f, v, 'input');
}

/** An input as a location string or as {"path", "credentials"}; see readCredentials. */
function readInputObject(f: Fields, v: Json, field: string): string | undefined {
  if (isObject(v)) {
    f.known(v, field, ['path', 'credentials'], 'INVALID_INPUT');
    if (v['credentials'] !== undefined) readCredentials(f, v['credentials'], `${field}.credentials`);
    return checkInputLocation(f, v['path'], `${field}.path`, 'INVALID_INPUT');
  }
  return checkInputLocation(f, v, field, 'INVALID_INPUT');
}

/**
 * The reference's `"credentials": "presigned"`: S3 inputs are read through presigned URLs made
 * with the server's own credentials (configured per S3 backend). Secrets are never accepted in a
 * job: a spec is stored, listed and logged.
 */
function readCredentials(f: Fields, v: Json, field: string): void {
  if (v === 'presigned') return;
  f.add('INVALID_INPUT', field, typeof v === 'string' ? `'${v.slice(0, 32)}' is not supported` : 'must not carry secrets: S3 credentials are configured on the server, per backend, never sent in a job', {
    allowed: ['presigned'],
    suggestion: 'leave credentials out, or use "presigned"; for a private object elsewhere, send a presigned http(s) URL as the input',
  });
}

function readOptions(f: Fields, body: JsonObject): JobOptions {
  const raw = body['options'];
  const opts: JsonObject = {};
  if (raw !== undefined) {
    if (!isObject(raw)) f.add('INVALID_REQUEST', 'options', `must be an object, got ${describe(raw)}`);
    else {
      f.known(raw, 'options', optionKeys);
      Object.assign(opts, raw);
    }
  }
  // The reference also shows these at the top level of a request.
  for (const key of optionKeys) if (body[key] !== undefined && opts[key] === undefined) opts[key] = body[key] as Json;
  const field = (k: string) => (raw !== undefined && isObject(raw) && k in raw ? `options.${k}` : k);
  const out: JobOptions = { priority: 'normal', hardwareAcceleration: 'auto' };
  if (opts['priority'] !== undefined) out.priority = f.oneOf(opts['priority'], field('priority'), 'INVALID_REQUEST', ['low', 'normal', 'high'] as const) ?? 'normal';
  if (opts['hardware_acceleration'] !== undefined) {
    const v = opts['hardware_acceleration'];
    const mapped = v === true ? 'auto' : v === false ? 'none' : typeof v === 'string' && ['gpu', 'cuda', 'nvidia'].includes(v.toLowerCase()) ? 'nvenc' : typeof v === 'string' && v.toLowerCase() === 'cpu' ? 'none' : v;
    out.hardwareAcceleration = f.oneOf(mapped, field('hardware_acceleration'), 'INVALID_REQUEST', ['auto', 'none', 'nvenc'] as const) ?? 'auto';
  }
  if (opts['webhook_url'] !== undefined) {
    const url = f.string(opts['webhook_url'], field('webhook_url'), 'INVALID_REQUEST', { max: 2048 });
    if (url !== undefined) {
      if (!/^https?:\/\/[^\s]+$/i.test(url)) f.add('INVALID_REQUEST', field('webhook_url'), 'must be an http(s) URL', { value: url });
      else out.webhookUrl = url;
    }
  }
  if (opts['presign_outputs'] !== undefined) {
    const v = opts['presign_outputs'];
    if (v === true) out.presignOutputSeconds = 3600;
    else if (v !== false) {
      const secs = f.number(v, field('presign_outputs'), 'INVALID_REQUEST', { min: 60, max: Limits.maxPresignSeconds, integer: true });
      if (secs !== undefined) out.presignOutputSeconds = secs;
    }
  }
  if (opts['webhook_events'] !== undefined) {
    const ev = opts['webhook_events'];
    if (!Array.isArray(ev)) f.add('INVALID_REQUEST', field('webhook_events'), `must be an array, got ${describe(ev)}`);
    else {
      const aliases: Record<string, string> = WebhookEventAliases;
      const events = ev.map((e, i) =>
        f.oneOf(typeof e === 'string' ? (aliases[e] ?? e) : e, `${field('webhook_events')}[${i}]`, 'INVALID_REQUEST', WebhookEventValues),
      );
      out.webhookEvents = [...new Set(events.filter((e) => e !== undefined))];
    }
  }
  if (opts['parallelism'] !== undefined) {
    const v = opts['parallelism'];
    if (typeof v === 'string' && v.toLowerCase() === 'auto') out.parallelism = 'auto';
    else if (typeof v === 'number') {
      const n = f.number(v, field('parallelism'), 'INVALID_REQUEST', { min: 1, max: Limits.maxParallelism, integer: true });
      if (n !== undefined) out.parallelism = n;
    } else {
      f.add('INVALID_REQUEST', field('parallelism'), `must be a whole number from 1 to ${Limits.maxParallelism}, or "auto"; got ${describe(v)}`, { value: v, allowed: ['auto', 1, Limits.maxParallelism] });
    }
  }
  if (opts['chunk_seconds'] !== undefined) {
    const secs = f.number(opts['chunk_seconds'], field('chunk_seconds'), 'INVALID_REQUEST', { min: Limits.minChunkSeconds, max: Limits.maxChunkSeconds });
    if (secs !== undefined) out.chunkSeconds = secs;
  }
  if (opts['verify'] !== undefined) {
    const v = f.boolean(opts['verify'], field('verify'), 'INVALID_REQUEST');
    if (v === false) out.verify = false;
  }
  if (opts['quality_gate'] !== undefined) {
    const g = opts['quality_gate'];
    const at = (k: string) => `${field('quality_gate')}.${k}`;
    if (!isObject(g)) f.add('INVALID_REQUEST', field('quality_gate'), `must be an object like {"vmaf_min": 90}, got ${describe(g)}`);
    else {
      f.known(g, field('quality_gate'), ['vmaf_min', 'psnr_min', 'ssim_min', 'on_fail']);
      const gate: QualityGate = { onFail: 'fail' };
      if (g['vmaf_min'] !== undefined) gate.vmafMin = f.number(g['vmaf_min'], at('vmaf_min'), 'INVALID_REQUEST', { min: 0, max: 100 });
      if (g['psnr_min'] !== undefined) gate.psnrMin = f.number(g['psnr_min'], at('psnr_min'), 'INVALID_REQUEST', { min: 0, max: 100 });
      if (g['ssim_min'] !== undefined) gate.ssimMin = f.number(g['ssim_min'], at('ssim_min'), 'INVALID_REQUEST', { min: 0, max: 1 });
      if (g['on_fail'] !== undefined) gate.onFail = f.oneOf(g['on_fail'], at('on_fail'), 'INVALID_REQUEST', ['fail', 'reencode'] as const) ?? 'fail';
      out.qualityGate = dropUndefined(gate);
    }
  }
  const timeout = opts['timeout_seconds'] ?? opts['timeout'];
  if (timeout !== undefined) {
    const t = f.number(timeout, field(opts['timeout_seconds'] !== undefined ? 'timeout_seconds' : 'timeout'), 'INVALID_REQUEST', { min: 1, max: Limits.maxSeconds, integer: true });
    if (t !== undefined) out.timeoutSeconds = t;
  }
  return out;
}

/** Seconds from a number or an "HH:MM:SS.mmm" timestamp. */
function readSeconds(f: Fields, v: unknown, field: string, min = 0): number | undefined {
  if (typeof v === 'string') {
    const m = /^(?:(\d{1,3}):)?([0-5]?\d):([0-5]?\d(?:\.\d+)?)$/.exec(v.trim()) ?? /^(\d+(?:\.\d+)?)s?$/.exec(v.trim());
    if (!m) return f.add('INVALID_OPERATION', field, 'must be seconds or an HH:MM:SS timestamp', { value: v });
    const secs = m.length === 4 ? Number(m[1] ?? 0) * 3600 + Number(m[2]) * 60 + Number(m[3]) : Number(m[1]);
    return f.number(secs, field, 'INVALID_OPERATION', { min, max: Limits.maxSeconds });
  }
  return f.number(v, field, 'INVALID_OPERATION', { min, max: Limits.maxSeconds });
}

function readResolution(f: Fields, v: unknown, field: string, code: ErrorCode): Size | undefined {
  if (typeof v !== 'string') return f.add(code, field, `must be a string like "1920x1080" or "720p", got ${describe(v)}`, { value: v });
  const size = parseResolution(v);
  if (!size) {
    return f.add(code, field, `is not a resolution (WIDTHxHEIGHT up to ${Limits.maxDimension}, or a name)`, {
      value: v,
      allowed: ['1920x1080', '720p', '1080p', '4k'],
    });
  }
  return size;
}

function readBitrate(f: Fields, v: unknown, field: string, code: ErrorCode, max: number): number | undefined {
  if (typeof v !== 'string' && typeof v !== 'number') return f.add(code, field, `must be a bitrate like "192k" or "5M", got ${describe(v)}`, { value: v });
  const bps = parseBitrate(v);
  if (bps === undefined) return f.add(code, field, 'is not a bitrate (e.g. "192k", "2.5M", or bits per second)', { value: v });
  if (bps < 1000 || bps > max) return f.add(code, field, `must be between 1k and ${max / 1e6}M`, { value: v });
  return bps;
}

function readCodec<T extends string>(f: Fields, v: unknown, field: string, allowed: readonly T[], aliases: Record<string, T>): T | undefined {
  const alias = typeof v === 'string' ? aliases[v.toLowerCase()] : undefined;
  return f.oneOf(alias ?? v, field, 'INVALID_CODEC_FORMAT', allowed);
}

const videoKeys = ['codec', 'preset', 'crf', 'bitrate', 'resolution', 'width', 'height', 'fps', 'framerate', 'pixel_format', 'pix_fmt', 'profile', 'target_vmaf', 'max_bitrate', 'vmaf_samples'];
const audioKeys = ['codec', 'bitrate', 'channels', 'sample_rate', 'normalize'];

function readVideo(f: Fields, v: unknown, field: string): VideoSettings | undefined {
  if (!isObject(v)) return f.add('INVALID_OUTPUT', field, `must be an object, got ${describe(v)}`);
  f.known(v, field, videoKeys, 'INVALID_OUTPUT');
  const out: VideoSettings = {};
  if (v['codec'] !== undefined) out.codec = readCodec(f, v['codec'], `${field}.codec`, VideoCodecValues, videoCodecAliases);
  if (v['preset'] !== undefined) out.preset = f.oneOf(v['preset'], `${field}.preset`, 'INVALID_OUTPUT', PresetValues);
  if (v['crf'] !== undefined) out.crf = f.number(v['crf'], `${field}.crf`, 'INVALID_OUTPUT', { min: 0, max: 63, integer: true });
  if (v['bitrate'] !== undefined) out.bitrate = readBitrate(f, v['bitrate'], `${field}.bitrate`, 'INVALID_OUTPUT', Limits.maxBitrate);
  if (v['resolution'] !== undefined) Object.assign(out, readResolution(f, v['resolution'], `${field}.resolution`, 'INVALID_OUTPUT'));
  for (const k of ['width', 'height'] as const) {
    if (v[k] !== undefined) out[k] = f.number(v[k], `${field}.${k}`, 'INVALID_OUTPUT', { min: 2, max: Limits.maxDimension, integer: true });
  }
  const fps = v['fps'] ?? v['framerate'];
  if (fps !== undefined) out.fps = f.number(fps, `${field}.fps`, 'INVALID_OUTPUT', { min: 0, max: Limits.maxFps, exclusiveMin: true });
  const pix = v['pixel_format'] ?? v['pix_fmt'];
  if (pix !== undefined) out.pixelFormat = f.oneOf(pix, `${field}.pixel_format`, 'INVALID_OUTPUT', PixelFormatValues);
  if (v['profile'] !== undefined) out.profile = f.oneOf(v['profile'], `${field}.profile`, 'INVALID_OUTPUT', ProfileValues);
  if (v['target_vmaf'] !== undefined) out.targetVmaf = f.number(v['target_vmaf'], `${field}.target_vmaf`, 'INVALID_OUTPUT', { min: Limits.minTargetVmaf, max: Limits.maxTargetVmaf });
  if (v['max_bitrate'] !== undefined) out.maxBitrate = readBitrate(f, v['max_bitrate'], `${field}.max_bitrate`, 'INVALID_OUTPUT', Limits.maxBitrate);
  if (v['vmaf_samples'] !== undefined) out.vmafSamples = f.number(v['vmaf_samples'], `${field}.vmaf_samples`, 'INVALID_OUTPUT', { min: 1, max: Limits.maxVmafSamples, integer: true });
  return dropUndefined(out);
}

function readAudio(f: Fields, v: unknown, field: string): AudioSettings | undefined {
  if (!isObject(v)) return f.add('INVALID_OUTPUT', field, `must be an object, got ${describe(v)}`);
  f.known(v, field, audioKeys, 'INVALID_OUTPUT');
  const out: AudioSettings = {};
  if (v['codec'] !== undefined) out.codec = readCodec(f, v['codec'], `${field}.codec`, AudioCodecValues, audioCodecAliases);
  if (v['bitrate'] !== undefined) out.bitrate = readBitrate(f, v['bitrate'], `${field}.bitrate`, 'INVALID_OUTPUT', Limits.maxAudioBitrate);
  if (v['channels'] !== undefined) out.channels = f.number(v['channels'], `${field}.channels`, 'INVALID_OUTPUT', { min: 1, max: 8, integer: true });
  if (v['sample_rate'] !== undefined) {
    out.sampleRate = f.oneOf(sampleRateText(v['sample_rate']), `${field}.sample_rate`, 'INVALID_OUTPUT', SampleRateValues);
  }
  if (v['normalize'] !== undefined) out.normalize = f.boolean(v['normalize'], `${field}.normalize`, 'INVALID_OUTPUT');
  return dropUndefined(out);
}

/** Sample rates may come as 48000 or "48000"; anything else stays as it is, to be refused. */
function sampleRateText(v: Json | undefined): unknown {
  return typeof v === 'number' ? String(v) : v;
}


/** The fields of an operation, whether written flat or under "params". */
function opFields(f: Fields, raw: JsonObject, field: string): { fields: JsonObject; at: (k: string) => string; known: (keys: string[]) => void } | undefined {
  const { type: _type, params, ...flat } = raw;
  if (params !== undefined && !isObject(params)) {
    f.add('INVALID_OPERATION', `${field}.params`, `must be an object, got ${describe(params)}`);
    return undefined;
  }
  const fields: JsonObject = { ...flat, ...(params ?? {}) };
  return {
    fields,
    at: (k) => (params && k in params ? `${field}.params.${k}` : `${field}.${k}`),
    known: (keys) => {
      f.known(flat, field, keys, 'INVALID_OPERATION');
      if (params) f.known(params, `${field}.params`, keys, 'INVALID_OPERATION');
    },
  };
}

const operationTypes = [
  'trim', 'resize', 'scale', 'crop', 'rotate', 'flip', 'fps', 'framerate', 'speed', 'transcode', 'filter', 'deinterlace', 'denoise',
  'sharpen', 'blur', 'color', 'adjust', 'fade', 'fade_in', 'fade_out', 'watermark', 'thumbnail', 'thumbnail_grid',
] as const;

interface ConvertAccumulator {
  ops: Operation[];
  video: VideoSettings;
  audio: AudioSettings;
  trace: Trace;
}

/** Reads one request operation into canonical operations (a "filter" may expand to several). */
function readOperation(f: Fields, raw: unknown, field: string, acc: ConvertAccumulator): void {
  if (!isObject(raw)) {
    f.add('INVALID_OPERATION', field, `must be an object with a "type", got ${describe(raw)}`);
    return;
  }
  const type = f.oneOf(raw['type'], `${field}.type`, 'INVALID_OPERATION', operationTypes);
  if (type === undefined) return;
  const got = opFields(f, raw, field);
  if (!got) return;
  const { fields: p, at, known } = got;
  const num = (k: string, range: Parameters<Fields['number']>[3]) => f.number(p[k], at(k), 'INVALID_OPERATION', range);
  const push = (op: Operation | undefined) => {
    if (op === undefined) return;
    acc.ops.push(op);
    acc.trace.ops.push({ field, at });
  };
  // Settings given through a transcode operation are reported there if they turn out wrong.
  const from = (canonical: string, key: string) => {
    if (p[key] !== undefined) acc.trace.settings.set(canonical, at(key));
  };

  switch (type) {
    case 'trim': {
      known(['start', 'duration', 'end', 'start_time', 'end_time']);
      const start = p['start'] ?? p['start_time'];
      const end = p['end'] ?? p['end_time'];
      const op: Operation = { type: 'trim', start: start === undefined ? 0 : (readSeconds(f, start, at('start')) ?? 0) };
      if (p['duration'] !== undefined) op.duration = readSeconds(f, p['duration'], at('duration'), 0.01);
      if (end !== undefined) op.end = readSeconds(f, end, at('end'), 0.01);
      if (p['duration'] === undefined && end === undefined && start === undefined) {
        f.add('INVALID_OPERATION', field, 'trim needs start, duration or end');
      }
      push(dropUndefined(op));
      return;
    }
    case 'resize':
    case 'scale': {
      known(['resolution', 'width', 'height']);
      let size: Size | undefined = {};
      if (p['resolution'] !== undefined) size = readResolution(f, p['resolution'], at('resolution'), 'INVALID_OPERATION');
      for (const k of ['width', 'height'] as const) {
        if (p[k] !== undefined && size) size[k] = num(k, { min: 2, max: Limits.maxDimension, integer: true });
      }
      if (size && size.width === undefined && size.height === undefined) {
        f.add('INVALID_OPERATION', field, 'resize needs resolution, width or height');
        return;
      }
      if (size) push({ type: 'scale', ...dropUndefined(size) });
      return;
    }
    case 'crop': {
      known(['width', 'height', 'x', 'y']);
      const width = num('width', { min: 2, max: Limits.maxDimension, integer: true });
      const height = num('height', { min: 2, max: Limits.maxDimension, integer: true });
      const x = p['x'] === undefined ? 0 : num('x', { min: 0, max: Limits.maxDimension, integer: true });
      const y = p['y'] === undefined ? 0 : num('y', { min: 0, max: Limits.maxDimension, integer: true });
      if (width !== undefined && height !== undefined && x !== undefined && y !== undefined) push({ type: 'crop', width, height, x, y });
      return;
    }
    case 'rotate': {
      known(['degrees', 'angle']);
      const k = p['degrees'] !== undefined ? 'degrees' : 'angle';
      const d = f.number(p[k], at(k), 'INVALID_OPERATION', { integer: true, min: -270, max: 270 });
      if (d === undefined) return;
      const norm = ((d % 360) + 360) % 360;
      if (norm !== 90 && norm !== 180 && norm !== 270) {
        f.add('INVALID_OPERATION', at(k), 'must be a multiple of 90 degrees', { value: d, allowed: [90, 180, 270, -90] });
        return;
      }
      push({ type: 'rotate', degrees: norm });
      return;
    }
    case 'flip': {
      known(['direction', 'axis']);
      const k = p['axis'] !== undefined ? 'axis' : 'direction';
      const raw = p[k] === 'x' ? 'horizontal' : p[k] === 'y' ? 'vertical' : p[k];
      const direction = f.oneOf(raw, at(k), 'INVALID_OPERATION', ['horizontal', 'vertical'] as const);
      if (direction) push({ type: 'flip', direction });
      return;
    }
    case 'fps':
    case 'framerate': {
      known(['fps', 'framerate', 'rate']);
      const k = ['fps', 'framerate', 'rate'].find((x) => p[x] !== undefined) ?? 'fps';
      const fps = num(k, { min: 0, exclusiveMin: true, max: Limits.maxFps });
      if (fps !== undefined) push({ type: 'fps', fps });
      return;
    }
    case 'speed': {
      known(['factor', 'speed', 'rate']);
      const k = ['factor', 'speed', 'rate'].find((x) => p[x] !== undefined) ?? 'factor';
      const factor = num(k, { min: 0.25, max: 4 });
      if (factor !== undefined) push({ type: 'speed', factor });
      return;
    }
    case 'transcode': {
      // The reference's batch example: {"type":"transcode","params":{"video_codec":"h264"}}.
      known(['video_codec', 'audio_codec', 'video_bitrate', 'audio_bitrate', 'preset', 'crf', 'resolution', 'fps', 'pixel_format', 'profile', 'channels', 'sample_rate']);
      const v = acc.video;
      const a = acc.audio;
      from('output.video.codec', 'video_codec');
      from('output.audio.codec', 'audio_codec');
      from('output.video.bitrate', 'video_bitrate');
      from('output.audio.bitrate', 'audio_bitrate');
      from('output.video.preset', 'preset');
      from('output.video.crf', 'crf');
      from('output.video.width', 'resolution');
      from('output.video.height', 'resolution');
      from('output.video.fps', 'fps');
      from('output.video.pixel_format', 'pixel_format');
      from('output.video.profile', 'profile');
      from('output.audio.channels', 'channels');
      from('output.audio.sample_rate', 'sample_rate');
      if (p['video_codec'] !== undefined) v.codec = readCodec(f, p['video_codec'], at('video_codec'), VideoCodecValues, videoCodecAliases);
      if (p['audio_codec'] !== undefined) a.codec = readCodec(f, p['audio_codec'], at('audio_codec'), AudioCodecValues, audioCodecAliases);
      if (p['video_bitrate'] !== undefined) v.bitrate = readBitrate(f, p['video_bitrate'], at('video_bitrate'), 'INVALID_OPERATION', Limits.maxBitrate);
      if (p['audio_bitrate'] !== undefined) a.bitrate = readBitrate(f, p['audio_bitrate'], at('audio_bitrate'), 'INVALID_OPERATION', Limits.maxAudioBitrate);
      if (p['preset'] !== undefined) v.preset = f.oneOf(p['preset'], at('preset'), 'INVALID_OPERATION', PresetValues);
      if (p['crf'] !== undefined) v.crf = num('crf', { min: 0, max: 63, integer: true });
      if (p['resolution'] !== undefined) Object.assign(v, readResolution(f, p['resolution'], at('resolution'), 'INVALID_OPERATION'));
      if (p['fps'] !== undefined) v.fps = num('fps', { min: 0, exclusiveMin: true, max: Limits.maxFps });
      if (p['pixel_format'] !== undefined) v.pixelFormat = f.oneOf(p['pixel_format'], at('pixel_format'), 'INVALID_OPERATION', PixelFormatValues);
      if (p['profile'] !== undefined) v.profile = f.oneOf(p['profile'], at('profile'), 'INVALID_OPERATION', ProfileValues);
      if (p['channels'] !== undefined) a.channels = num('channels', { min: 1, max: 8, integer: true });
      if (p['sample_rate'] !== undefined) a.sampleRate = f.oneOf(sampleRateText(p['sample_rate']), at('sample_rate'), 'INVALID_OPERATION', SampleRateValues);
      return;
    }
    case 'filter':
    case 'color':
    case 'adjust':
    case 'deinterlace':
    case 'denoise':
    case 'sharpen':
    case 'blur': {
      const keys = ['deinterlace', 'denoise', 'sharpen', 'blur', 'brightness', 'contrast', 'saturation', 'gamma', 'fade_in', 'fade_out', 'strength', 'amount', 'sigma'];
      known(keys);
      // A single-purpose operation ({"type":"blur","sigma":2}) reads the same as a filter field.
      if (type === 'deinterlace') push({ type: 'deinterlace' });
      if (type === 'denoise') push({ type: 'denoise', strength: p['strength'] === undefined ? 'medium' : (f.oneOf(p['strength'], at('strength'), 'INVALID_OPERATION', ['light', 'medium', 'strong'] as const) ?? 'medium') });
      if (type === 'sharpen') {
        const amount = p['amount'] === undefined ? 1 : num('amount', { min: 0, max: 5 });
        if (amount !== undefined) push({ type: 'sharpen', amount });
      }
      if (type === 'blur') {
        const sigma = p['sigma'] === undefined ? 2 : num('sigma', { min: 0, exclusiveMin: true, max: 50 });
        if (sigma !== undefined) push({ type: 'blur', sigma });
      }
      if (p['deinterlace'] !== undefined && f.boolean(p['deinterlace'], at('deinterlace'), 'INVALID_OPERATION')) push({ type: 'deinterlace' });
      if (p['denoise'] !== undefined) {
        const s = p['denoise'] === true ? 'medium' : f.oneOf(p['denoise'], at('denoise'), 'INVALID_OPERATION', ['light', 'medium', 'strong'] as const);
        if (s) push({ type: 'denoise', strength: s });
      }
      if (p['sharpen'] !== undefined) {
        const amount = p['sharpen'] === true ? 1 : num('sharpen', { min: 0, max: 5 });
        if (amount !== undefined) push({ type: 'sharpen', amount });
      }
      if (p['blur'] !== undefined) {
        const sigma = p['blur'] === true ? 2 : num('blur', { min: 0, exclusiveMin: true, max: 50 });
        if (sigma !== undefined) push({ type: 'blur', sigma });
      }
      const color: Extract<Operation, { type: 'color' }> = { type: 'color' };
      const ranges = { brightness: [-1, 1], contrast: [0, 4], saturation: [0, 3], gamma: [0.1, 10] } as const;
      for (const k of Object.keys(ranges) as (keyof typeof ranges)[]) {
        if (p[k] !== undefined) color[k] = num(k, { min: ranges[k][0], max: ranges[k][1] });
      }
      if (Object.keys(dropUndefined(color)).length > 1) push(color);
      if (p['fade_in'] !== undefined) {
        const d = readSeconds(f, p['fade_in'], at('fade_in'), 0.01);
        if (d !== undefined) push({ type: 'fade', direction: 'in', duration: d });
      }
      if (p['fade_out'] !== undefined) {
        const d = readSeconds(f, p['fade_out'], at('fade_out'), 0.01);
        if (d !== undefined) push({ type: 'fade', direction: 'out', duration: d });
      }
      return;
    }
    case 'fade':
    case 'fade_in':
    case 'fade_out': {
      known(['direction', 'duration', 'mode']);
      const dirKey = p['mode'] !== undefined ? 'mode' : 'direction';
      const direction = type === 'fade_in' ? 'in' : type === 'fade_out' ? 'out' : f.oneOf(p[dirKey], at(dirKey), 'INVALID_OPERATION', ['in', 'out'] as const);
      const duration = p['duration'] === undefined ? 1 : readSeconds(f, p['duration'], at('duration'), 0.01);
      if (direction && duration !== undefined) push({ type: 'fade', direction, duration });
      return;
    }
    case 'watermark': {
      known(['image', 'watermark_path', 'path', 'position', 'opacity', 'scale', 'margin']);
      const imgKey = ['image', 'watermark_path', 'path'].find((k) => p[k] !== undefined) ?? 'image';
      const image = checkInputLocation(f, p[imgKey], at(imgKey), 'INVALID_OPERATION');
      const position = p['position'] === undefined ? 'bottom-right' : f.oneOf(p['position'], at('position'), 'INVALID_OPERATION', PositionValues);
      const opacity = p['opacity'] === undefined ? 1 : num('opacity', { min: 0, max: 1 });
      const scale = p['scale'] === undefined ? 0.15 : num('scale', { min: 0, exclusiveMin: true, max: 1 });
      const margin = p['margin'] === undefined ? 10 : num('margin', { min: 0, max: 1000, integer: true });
      if (image && position && opacity !== undefined && scale !== undefined && margin !== undefined) {
        push({ type: 'watermark', image, position, opacity, scale, margin });
      }
      return;
    }
    case 'thumbnail': {
      known(['timestamp', 'time', 'count', 'interval', 'width', 'height', 'quality']);
      const op: Extract<Operation, { type: 'thumbnail' }> = { type: 'thumbnail', quality: 'high' };
      const tsKey = p['time'] !== undefined ? 'time' : 'timestamp';
      if (p[tsKey] !== undefined) op.timestamp = readSeconds(f, p[tsKey], at(tsKey));
      if (p['count'] !== undefined) op.count = num('count', { min: 1, max: Limits.maxThumbnails, integer: true });
      if (p['interval'] !== undefined) op.interval = readSeconds(f, p['interval'], at('interval'), 0.04);
      for (const k of ['width', 'height'] as const) if (p[k] !== undefined) op[k] = num(k, { min: 2, max: Limits.maxDimension, integer: true });
      if (p['quality'] !== undefined) op.quality = f.oneOf(p['quality'], at('quality'), 'INVALID_OPERATION', ['low', 'medium', 'high'] as const) ?? 'high';
      push(dropUndefined(op));
      return;
    }
    case 'thumbnail_grid': {
      known(['rows', 'cols', 'columns', 'width', 'height']);
      const rows = p['rows'] === undefined ? 3 : num('rows', { min: 1, max: Limits.maxGridCells, integer: true });
      const colKey = p['columns'] !== undefined ? 'columns' : 'cols';
      const cols = p[colKey] === undefined ? 4 : num(colKey, { min: 1, max: Limits.maxGridCells, integer: true });
      const width = p['width'] === undefined ? 1280 : num('width', { min: 2, max: Limits.maxDimension, integer: true });
      const height = p['height'] === undefined ? 720 : num('height', { min: 2, max: Limits.maxDimension, integer: true });
      if (rows && cols && width && height) push({ type: 'thumbnail_grid', rows, cols, width, height });
      return;
    }
  }
}

/** The output path for `"output": "mp4"`: beside the input (in storage or its bucket), with the new extension. */
function derivedOutputPath(input: string, format: Container): string {
  const base = input.replace(/\.[^./]*$/, '');
  const candidate = `${base}.${format}`;
  return candidate === input ? `${base}.out.${format}` : candidate;
}

function normalizeConvert(f: Fields, body: JsonObject, trace: Trace): MediaJobSpec | undefined {
  f.known(body, '', ['input', 'output', 'operations', 'options', ...optionKeys]);
  const input = readInput(f, body);
  const acc: ConvertAccumulator = { ops: [], video: {}, audio: {}, trace };
  const rawOps = body['operations'];
  if (rawOps !== undefined) {
    if (!Array.isArray(rawOps)) f.add('INVALID_OPERATION', 'operations', `must be an array, got ${describe(rawOps)}`);
    else if (rawOps.length > Limits.maxOperations) f.add('INVALID_OPERATION', 'operations', `at most ${Limits.maxOperations} operations`, { value: rawOps.length });
    else rawOps.forEach((op, i) => readOperation(f, op, `operations[${i}]`, acc));
  }
  // Decided from what the client asked for, so a bad thumbnail parameter is not also blamed on the output.
  const imageJob = Array.isArray(rawOps) && rawOps.some((o) => isObject(o) && (o['type'] === 'thumbnail' || o['type'] === 'thumbnail_grid'));
  const output = readOutput(f, body['output'], input, imageJob);
  const options = readOptions(f, body);
  if (!input || !output) return undefined;
  // Explicit output settings win over a transcode operation's, and so are reported as themselves.
  for (const k of Object.keys(output.video ?? {})) trace.settings.delete(`output.video.${k === 'pixelFormat' ? 'pixel_format' : k}`);
  for (const k of Object.keys(output.audio ?? {})) trace.settings.delete(`output.audio.${k === 'sampleRate' ? 'sample_rate' : k}`);
  output.video = dropUndefined({ ...acc.video, ...output.video });
  output.audio = dropUndefined({ ...acc.audio, ...output.audio });
  if (Object.keys(output.video).length === 0) delete output.video;
  if (Object.keys(output.audio).length === 0) delete output.audio;
  return { type: 'convert', input: { path: input }, output, operations: acc.ops, options };
}

function readOutput(f: Fields, v: unknown, input: string | undefined, imageJob: boolean): OutputSpec | undefined {
  if (v === undefined) return f.add('INVALID_OUTPUT', 'output', 'is required', { suggestion: 'e.g. "output": "mp4" or {"path": "/storage/output/video.mp4"}' });
  if (typeof v === 'string') {
    if (v.startsWith('/') || v.includes(':')) {
      const path = checkOutputLocation(f, v, 'output', 'INVALID_OUTPUT');
      if (!path) return undefined;
      return outputFromPath(f, path, undefined, 'output', imageJob);
    }
    const format = f.oneOf(v, 'output', 'INVALID_OUTPUT', ContainerValues);
    if (!format || !input || !besideInput(f, input, 'output')) return undefined;
    return { path: derivedOutputPath(input, format), format };
  }
  if (!isObject(v)) return f.add('INVALID_OUTPUT', 'output', `must be a format name, a path or an object, got ${describe(v)}`);
  f.known(v, 'output', ['path', 'format', 'video', 'audio'], 'INVALID_OUTPUT');
  const format = v['format'] === undefined ? undefined : f.oneOf(v['format'], 'output.format', 'INVALID_OUTPUT', ContainerValues);
  let out: OutputSpec | undefined;
  if (v['path'] === undefined) {
    if (!format) return f.add('INVALID_OUTPUT', 'output.path', 'is required unless output.format is given');
    if (input && besideInput(f, input, 'output.path')) out = { path: derivedOutputPath(input, format), format };
  } else {
    const path = checkOutputLocation(f, v['path'], 'output.path', 'INVALID_OUTPUT');
    if (path) out = outputFromPath(f, path, format, 'output.path', imageJob);
  }
  const video = v['video'] === undefined ? undefined : readVideo(f, v['video'], 'output.video');
  const audio = v['audio'] === undefined ? undefined : readAudio(f, v['audio'], 'output.audio');
  if (!out) return undefined;
  if (video) out.video = video;
  if (audio) out.audio = audio;
  return out;
}

/** An output can be derived beside a storage or S3 input, not beside a URL. */
function besideInput(f: Fields, input: string, field: string): boolean {
  if (locationKind(input) !== 'http') return true;
  f.add('INVALID_OUTPUT', field, 'needs a path when the input is a URL: nothing can be written beside it', {
    suggestion: 'e.g. "output": {"path": "/storage/output/video.mp4"} or "s3://bucket/output/video.mp4"',
  });
  return false;
}

function outputFromPath(f: Fields, path: string, format: Container | undefined, field: string, imageJob: boolean): OutputSpec | undefined {
  const fromExt = containerFromPath(path);
  if (imageJob && (path.endsWith('/') || !fromExt)) {
    // Thumbnail series and grids write into a folder.
    return { path: stripTrailingSlash(path), format: format ?? 'jpg' };
  }
  if (path.endsWith('/')) return f.add('INVALID_OUTPUT', field, 'must name a file, not a folder', { value: path });
  const chosen = format ?? fromExt;
  if (!chosen) {
    return f.add('INVALID_OUTPUT', field, 'has no known extension; give output.format', { value: path, allowed: ContainerValues });
  }
  if (format && fromExt && format !== fromExt && ContainerRules[format].muxer !== ContainerRules[fromExt].muxer) {
    f.add('INVALID_OUTPUT', 'output.format', `'${format}' does not match the extension of '${path}'`, { value: format, suggestion: `use format '${fromExt}' or change the extension` });
  }
  return { path, format: chosen };
}

function normalizeStream(f: Fields, body: JsonObject): MediaJobSpec | undefined {
  f.known(body, '', ['input', 'output', 'type', 'format', 'variants', 'segment_duration', 'video_codec', 'codec', 'audio_bitrate', 'max_variants', 'min_bitrate', 'max_bitrate', 'options', ...optionKeys]);
  const input = readInput(f, body);
  if (isObject(body['output'])) f.known(body['output'], 'output', ['path'], 'INVALID_OUTPUT');
  const rawOut = isObject(body['output']) ? body['output']['path'] : body['output'];
  const outField = isObject(body['output']) ? 'output.path' : 'output';
  const dir = rawOut === undefined ? f.add('INVALID_OUTPUT', 'output', 'is required: the folder to write the stream into') : checkOutputLocation(f, rawOut, outField, 'INVALID_OUTPUT');
  const typeKey = body['type'] !== undefined ? 'type' : 'format';
  const format = body[typeKey] === undefined ? 'hls' : f.oneOf(body[typeKey], typeKey, 'INVALID_OUTPUT', ['hls', 'dash'] as const);
  const segmentDuration = body['segment_duration'] === undefined ? 6 : f.number(body['segment_duration'], 'segment_duration', 'INVALID_OUTPUT', { min: 1, max: 60 });
  const codecKey = body['video_codec'] !== undefined ? 'video_codec' : 'codec';
  if (body['video_codec'] !== undefined && body['codec'] !== undefined) f.add('INVALID_OUTPUT', 'codec', 'give video_codec or codec, not both');
  const videoCodec = body[codecKey] === undefined ? 'h264' : readCodec(f, body[codecKey], codecKey, ['h264', 'h265'] as const, { avc: 'h264', hevc: 'h265' });
  const audioBitrate = body['audio_bitrate'] === undefined ? 128_000 : readBitrate(f, body['audio_bitrate'], 'audio_bitrate', 'INVALID_OUTPUT', Limits.maxAudioBitrate);
  const auto = typeof body['variants'] === 'string' && body['variants'].toLowerCase() === 'auto';
  const variants = auto ? undefined : readVariants(f, body['variants']);
  const perTitle = auto ? readPerTitle(f, body) : undefined;
  if (!auto) {
    for (const k of ['max_variants', 'min_bitrate', 'max_bitrate']) {
      if (body[k] !== undefined) f.add('INVALID_OUTPUT', k, 'applies only to a ladder built from the content ("variants": "auto")', { value: body[k] });
    }
  }
  const options = readOptions(f, body);
  if (!input || !dir || !format || segmentDuration === undefined || !videoCodec || audioBitrate === undefined || (!variants && !perTitle)) return undefined;
  const stream: StreamSpec = { format, path: stripTrailingSlash(dir), segmentDuration, videoCodec, audioBitrate, ...(variants ? { variants } : {}), ...(perTitle ? { perTitle } : {}) };
  return { type: 'stream', input: { path: input }, operations: [], stream, options };
}

/** `"variants": "auto"` with its bounds: a ladder built from the content. */
function readPerTitle(f: Fields, body: JsonObject): PerTitleLadder | undefined {
  const maxVariants = body['max_variants'] === undefined ? 5 : f.number(body['max_variants'], 'max_variants', 'INVALID_OUTPUT', { min: 1, max: Limits.maxVariants, integer: true });
  const minBitrate = body['min_bitrate'] === undefined ? undefined : readBitrate(f, body['min_bitrate'], 'min_bitrate', 'INVALID_OUTPUT', Limits.maxBitrate);
  const maxBitrate = body['max_bitrate'] === undefined ? undefined : readBitrate(f, body['max_bitrate'], 'max_bitrate', 'INVALID_OUTPUT', Limits.maxBitrate);
  if (maxVariants === undefined || (body['min_bitrate'] !== undefined && minBitrate === undefined) || (body['max_bitrate'] !== undefined && maxBitrate === undefined)) return undefined;
  return dropUndefined({ maxVariants, minBitrate, maxBitrate });
}

const defaultLadder = [
  { resolution: '1080p', bitrate: '5M' },
  { resolution: '720p', bitrate: '2.5M' },
  { resolution: '480p', bitrate: '1M' },
];

function readVariants(f: Fields, v: unknown): Variant[] | undefined {
  const list = v === undefined ? defaultLadder : v;
  if (!Array.isArray(list)) return f.add('INVALID_OUTPUT', 'variants', `must be an array, got ${describe(list)}`);
  if (list.length === 0 || list.length > Limits.maxVariants) return f.add('INVALID_OUTPUT', 'variants', `must have 1 to ${Limits.maxVariants} entries`, { value: list.length });
  const out: Variant[] = [];
  list.forEach((raw, i) => {
    const field = `variants[${i}]`;
    if (!isObject(raw)) return f.add('INVALID_OUTPUT', field, `must be an object, got ${describe(raw)}`);
    f.known(raw, field, ['resolution', 'width', 'height', 'bitrate', 'name'], 'INVALID_OUTPUT');
    const size: Size | undefined = raw['resolution'] !== undefined ? readResolution(f, raw['resolution'], `${field}.resolution`, 'INVALID_OUTPUT') : {};
    for (const k of ['width', 'height'] as const) {
      if (raw[k] !== undefined && size) size[k] = f.number(raw[k], `${field}.${k}`, 'INVALID_OUTPUT', { min: 2, max: Limits.maxDimension, integer: true });
    }
    if (size && size.width === undefined && size.height === undefined) return f.add('INVALID_OUTPUT', field, 'needs a resolution');
    const bitrate = raw['bitrate'] === undefined ? f.add('INVALID_OUTPUT', `${field}.bitrate`, 'is required') : readBitrate(f, raw['bitrate'], `${field}.bitrate`, 'INVALID_OUTPUT', Limits.maxBitrate);
    let name: string | undefined;
    if (raw['name'] !== undefined) {
      name = f.string(raw['name'], `${field}.name`, 'INVALID_OUTPUT', { max: 32 });
      // Names become folder names and fields of FFmpeg's -var_stream_map: keep them plain.
      if (name !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(name)) name = f.add('INVALID_OUTPUT', `${field}.name`, 'may contain only letters, digits, - and _', { value: name });
    } else if (size) {
      name = size.width !== undefined && size.height !== undefined ? `${size.width}x${size.height}` : `${size.height ?? size.width}p`;
    }
    if (size && bitrate !== undefined && name !== undefined) out.push({ name, ...dropUndefined(size), bitrate });
  });
  return out.length === list.length ? out : undefined;
}

function readReference(f: Fields, v: Json): string | undefined {
  return readInputObject(f, v, 'reference');
}

function normalizeAnalyze(f: Fields, body: JsonObject): MediaJobSpec | undefined {
  f.known(body, '', ['input', 'reference', 'metrics', 'output', 'options', ...optionKeys]);
  const input = readInput(f, body);
  const reference = body['reference'] === undefined
    ? f.add('INVALID_INPUT', 'reference', 'is required to compute quality metrics', { suggestion: 'the original video the input was encoded from' })
    : readReference(f, body['reference']);
  let metrics: AnalyzeSpec['metrics'] | undefined = ['vmaf', 'psnr', 'ssim'];
  if (body['metrics'] !== undefined) {
    const m = body['metrics'];
    if (!Array.isArray(m) || m.length === 0) metrics = f.add('INVALID_REQUEST', 'metrics', 'must be a non-empty array', { allowed: MetricValues });
    else {
      const read = m.map((x, i) => f.oneOf(x, `metrics[${i}]`, 'INVALID_REQUEST', MetricValues));
      metrics = read.every((x) => x !== undefined) ? [...new Set(read as AnalyzeSpec['metrics'])] : undefined;
    }
  }
  if (isObject(body['output'])) f.known(body['output'], 'output', ['path'], 'INVALID_OUTPUT');
  const path = body['output'] === undefined ? undefined : checkOutputLocation(f, isObject(body['output']) ? body['output']['path'] : body['output'], isObject(body['output']) ? 'output.path' : 'output', 'INVALID_OUTPUT');
  const options = readOptions(f, body);
  if (!input || !reference || !metrics) return undefined;
  const analyze: AnalyzeSpec = { reference, metrics };
  if (path) analyze.path = stripTrailingSlash(path);
  return { type: 'analyze', input: { path: input }, operations: [], analyze, options };
}

/** A batch request's own fields; its jobs are normalized one by one (their errors prefixed). */
export interface BatchRequestFields {
  jobs: unknown[];
  name?: string;
  validateFiles: boolean;
}

export function readBatchRequest(body: unknown): BatchRequestFields {
  const f = new Fields();
  if (!isObject(body)) {
    f.add('INVALID_REQUEST', 'body', `must be a JSON object, got ${describe(body)}`);
    throw new SpecError(f.issues);
  }
  f.known(body, '', ['jobs', 'batch_name', 'validate_files']);
  const jobs = body['jobs'];
  if (!Array.isArray(jobs)) f.add('INVALID_REQUEST', 'jobs', jobs === undefined ? 'is required: a list of job requests' : `must be an array, got ${describe(jobs)}`);
  else if (jobs.length === 0 || jobs.length > 100) f.add('INVALID_REQUEST', 'jobs', 'must have 1 to 100 jobs', { value: jobs.length });
  const name = body['batch_name'] === undefined ? undefined : f.string(body['batch_name'], 'batch_name', 'INVALID_REQUEST', { max: 200 });
  const validateFiles = body['validate_files'] === undefined ? true : f.boolean(body['validate_files'], 'validate_files', 'INVALID_REQUEST');
  if (f.issues.length > 0 || !Array.isArray(jobs)) throw new SpecError(f.issues);
  return { jobs, validateFiles: validateFiles !== false, ...(name !== undefined ? { name } : {}) };
}
