// `kubeff convert|stream|analyze` (submit a job, optionally follow it to the end) and
// `kubeff jobs list|get|wait|cancel|logs`. Job bodies are built from flags into the reference's
// request shapes, or taken whole from --body; the server validates both the same way, so the CLI
// checks only what it must to build a body (numbers are numbers, JSON is JSON).
import { readFile } from 'node:fs/promises';
import type { ParseArgsOptionsConfig } from 'node:util';
import { flag, list, num, positionalCount, str, type Parsed, type Values } from './args.ts';
import type { AnalyzeRequest, ConvertRequest, Job, JobEvent, JobListQuery, JobSummary, KubeffClient, StreamRequest, SubmitOptions } from '../../sdk/src/index.ts';
import { Exit, type Command, type Ctx } from './context.ts';
import { UsageError } from './errors.ts';
import { describeJob, jobsTable } from './format.ts';
import { ProgressReporter, type ProgressData } from './progress.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

/** Options of every submit command. */
const submitOptions = {
  body: { type: 'string' },
  wait: { type: 'boolean', short: 'w' },
  quiet: { type: 'boolean', short: 'q' },
  'wait-timeout': { type: 'string' },
  'idempotency-key': { type: 'string' },
  'dry-run': { type: 'boolean' },
  priority: { type: 'string' },
  hwaccel: { type: 'string' },
  'webhook-url': { type: 'string' },
  'webhook-event': { type: 'string', multiple: true },
  parallelism: { type: 'string' },
  'chunk-seconds': { type: 'string' },
  'no-verify': { type: 'boolean' },
} as const satisfies ParseArgsOptionsConfig;

/** Submit options that are not part of the job body: allowed beside --body. */
const notBody = new Set(['body', 'wait', 'quiet', 'wait-timeout', 'idempotency-key', 'dry-run', 'url', 'key', 'json', 'help']);

const submitHelp = [
  'Job options (all commands):',
  '  --priority low|normal|high      --hwaccel auto|none|nvenc',
  '  --webhook-url URL               --webhook-event EVENT (repeatable)',
  '  --parallelism N|auto             split into chunks encoded at once (--chunk-seconds S)',
  '  --no-verify                      publish outputs without checking them first',
  '',
  'Submitting:',
  '  --body FILE|-            send this JSON request body as it is (- reads stdin) instead of',
  '                           building one from arguments and flags',
  '  --idempotency-key KEY    a retried submission with the same key and body creates one job',
  '  --dry-run                print the request body and stop',
  '  -w, --wait               follow the job to its end: live progress on stderr, then the result',
  '  -q, --quiet              with --wait: no progress display',
  '  --wait-timeout SECONDS   with --wait: stop waiting (exit 2) after this long; the job goes on',
  '',
  'Prints the job id (with --wait, then the finished job). Exit status: 0 submitted or completed,',
  '1 the job failed or was cancelled, 2 the request was refused (the API\'s message and field are',
  'shown) or the server could not be reached.',
].join('\n');

function options(v: Values): JsonObject {
  const o: JsonObject = {};
  const priority = str(v, 'priority');
  if (priority !== undefined) o['priority'] = priority;
  const hw = str(v, 'hwaccel');
  if (hw !== undefined) o['hardware_acceleration'] = hw;
  const hook = str(v, 'webhook-url');
  if (hook !== undefined) o['webhook_url'] = hook;
  const events = list(v, 'webhook-event');
  if (events.length) o['webhook_events'] = events;
  const parallelism = str(v, 'parallelism');
  if (parallelism !== undefined) o['parallelism'] = parallelism === 'auto' ? 'auto' : (num(v, 'parallelism', { integer: true }) as number);
  setIf(o, 'chunk_seconds', num(v, 'chunk-seconds'));
  if (flag(v, 'no-verify')) o['verify'] = false;
  // The quality gate (convert).
  const gate: JsonObject = {};
  setIf(gate, 'vmaf_min', num(v, 'vmaf-min'));
  setIf(gate, 'psnr_min', num(v, 'psnr-min'));
  setIf(gate, 'ssim_min', num(v, 'ssim-min'));
  setIf(gate, 'on_fail', str(v, 'on-fail'));
  if (Object.keys(gate).length) o['quality_gate'] = gate;
  return o;
}

function withOptions(body: JsonObject, v: Values): JsonObject {
  const o = options(v);
  if (Object.keys(o).length) body['options'] = o;
  return body;
}

function setIf(o: JsonObject, key: string, value: Json | undefined): void {
  if (value !== undefined) o[key] = value;
}

/** Request body of `kubeff convert INPUT OUTPUT [flags]`. */
export function convertBody(p: Parsed): JsonObject {
  const v = p.values;
  const [input, output] = p.positionals as [string, string];
  const video: JsonObject = {};
  setIf(video, 'codec', str(v, 'codec') ?? str(v, 'video-codec'));
  setIf(video, 'preset', str(v, 'preset'));
  setIf(video, 'crf', num(v, 'crf', { integer: true }));
  setIf(video, 'bitrate', str(v, 'video-bitrate'));
  setIf(video, 'resolution', str(v, 'resolution'));
  setIf(video, 'fps', num(v, 'fps'));
  setIf(video, 'pixel_format', str(v, 'pixel-format'));
  setIf(video, 'profile', str(v, 'profile'));
  setIf(video, 'target_vmaf', num(v, 'target-vmaf'));
  setIf(video, 'max_bitrate', str(v, 'max-bitrate'));
  setIf(video, 'vmaf_samples', num(v, 'vmaf-samples', { integer: true }));
  const audio: JsonObject = {};
  setIf(audio, 'codec', str(v, 'audio-codec'));
  setIf(audio, 'bitrate', str(v, 'audio-bitrate'));
  setIf(audio, 'channels', num(v, 'channels', { integer: true }));
  setIf(audio, 'sample_rate', num(v, 'sample-rate', { integer: true }));
  if (flag(v, 'normalize')) audio['normalize'] = true;

  // "mp4" alone is the reference's shorthand: the output goes beside the input in that format.
  const isFormat = /^[A-Za-z0-9]{2,5}$/.test(output);
  const out: JsonObject = isFormat ? { format: output } : { path: output };
  setIf(out, 'format', str(v, 'format'));
  if (Object.keys(video).length) out['video'] = video;
  if (Object.keys(audio).length) out['audio'] = audio;

  const operations: Json[] = [];
  const start = str(v, 'start');
  const duration = str(v, 'duration');
  const end = str(v, 'end');
  if (start !== undefined || duration !== undefined || end !== undefined) {
    const trim: JsonObject = { type: 'trim' };
    // Seconds go as numbers (the reference's form); timestamps ("00:01:10") as written.
    const seconds = (s: string | undefined) => (s !== undefined && /^\d+(\.\d+)?$/.test(s) ? Number(s) : s);
    setIf(trim, 'start', seconds(start));
    setIf(trim, 'duration', seconds(duration));
    setIf(trim, 'end', seconds(end));
    operations.push(trim);
  }
  for (const raw of list(v, 'op')) operations.push(parseOp(raw));

  const body: JsonObject = { input, output: Object.keys(out).length === 1 && isFormat && !str(v, 'format') ? output : out };
  if (operations.length) body['operations'] = operations;
  return withOptions(body, v);
}

function parseOp(raw: string): JsonObject {
  let op: unknown;
  try {
    op = JSON.parse(raw);
  } catch (err) {
    throw new UsageError(`--op: not JSON (${err instanceof Error ? err.message : String(err)}): ${raw}`);
  }
  if (typeof op !== 'object' || op === null || Array.isArray(op)) throw new UsageError(`--op: must be a JSON object like '{"type":"rotate","degrees":90}', got ${raw}`);
  return op as JsonObject;
}

/** Request body of `kubeff stream INPUT OUTDIR [flags]`. */
export function streamBody(p: Parsed): JsonObject {
  const v = p.values;
  const [input, output] = p.positionals as [string, string];
  const body: JsonObject = { input, output };
  setIf(body, 'type', str(v, 'type'));
  const raw = list(v, 'variant');
  if (raw.includes('auto')) {
    // A ladder built from the content.
    if (raw.length > 1) throw new UsageError('--variant auto builds the whole ladder; give no other --variant');
    body['variants'] = 'auto';
    setIf(body, 'max_variants', num(v, 'max-variants', { integer: true }));
    setIf(body, 'min_bitrate', str(v, 'min-bitrate'));
    setIf(body, 'max_bitrate', str(v, 'max-bitrate'));
  }
  const variants = raw.filter((x) => x !== 'auto').map((spec) => {
    // RESOLUTION:BITRATE[:NAME], e.g. 720p:2.5M or 1280x720:2500k:hd
    const [resolution, bitrate, name, ...extra] = spec.split(':');
    if (!resolution || !bitrate || extra.length) throw new UsageError(`--variant: expected RESOLUTION:BITRATE[:NAME] (e.g. 720p:2.5M), got '${spec}'`);
    const variant: JsonObject = { resolution, bitrate };
    if (name) variant['name'] = name;
    return variant;
  });
  if (variants.length) body['variants'] = variants;
  setIf(body, 'segment_duration', num(v, 'segment-duration'));
  setIf(body, 'video_codec', str(v, 'video-codec'));
  setIf(body, 'audio_bitrate', str(v, 'audio-bitrate'));
  return withOptions(body, v);
}

/** Request body of `kubeff analyze INPUT --reference REF [flags]`. */
export function analyzeBody(p: Parsed): JsonObject {
  const v = p.values;
  const [input] = p.positionals as [string];
  const reference = str(v, 'reference');
  if (reference === undefined) throw new UsageError('--reference is required: the original the input was encoded from');
  const body: JsonObject = { input, reference };
  // --metric vmaf --metric psnr, or --metric vmaf,psnr
  const metrics = list(v, 'metric').flatMap((m) => m.split(',')).map((m) => m.trim()).filter(Boolean);
  if (metrics.length) body['metrics'] = metrics;
  setIf(body, 'output', str(v, 'output'));
  return withOptions(body, v);
}

async function readBody(source: string, ctx: Ctx): Promise<unknown> {
  let text: string;
  if (source === '-') {
    const chunks: Buffer[] = [];
    for await (const c of ctx.io.stdin) chunks.push(Buffer.from(c));
    text = Buffer.concat(chunks).toString('utf8');
  } else {
    try {
      text = await readFile(source, 'utf8');
    } catch (err) {
      throw new UsageError(`--body: cannot read ${source}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--body: ${source === '-' ? 'stdin' : source} is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function waitTimeoutMs(v: Values): number | undefined {
  const s = num(v, 'wait-timeout');
  if (s === undefined) return undefined;
  if (s <= 0) throw new UsageError('--wait-timeout: must be more than 0 seconds');
  return s * 1000;
}

/**
 * The SDK's submit calls, taking any body: the server validates every request (one source of
 * truth, with the field at fault named), so the CLI forwards what was built or written as it is.
 */
const submitters: Record<'convert' | 'stream' | 'analyze', (c: KubeffClient, body: unknown, o: SubmitOptions) => Promise<JobSummary>> = {
  convert: (c, body, o) => c.convert(body as ConvertRequest, o),
  stream: (c, body, o) => c.stream(body as StreamRequest, o),
  analyze: (c, body, o) => c.analyze(body as AnalyzeRequest, o),
};

function submitCommand(kind: 'convert' | 'stream' | 'analyze', o: { usage: string; summary: string; positionals: [number, number]; options: ParseArgsOptionsConfig; help: string; build: (p: Parsed) => JsonObject }): Command {
  return {
    path: kind,
    summary: o.summary,
    usage: o.usage,
    help: `${o.help}\n\n${submitHelp}`,
    options: { ...submitOptions, ...o.options },
    async run(ctx, p) {
      const source = str(p.values, 'body');
      let body: unknown;
      if (source !== undefined) {
        const extra = Object.keys(p.values).filter((k) => !notBody.has(k) && p.values[k] !== undefined);
        if (p.positionals.length || extra.length) {
          throw new UsageError(`--body is the whole request: leave out ${p.positionals.length ? 'the arguments' : `--${extra[0] ?? ''}`}, or drop --body`);
        }
        body = await readBody(source, ctx);
      } else {
        positionalCount(p, o.positionals[0], o.positionals[1], o.usage);
        body = o.build(p);
      }
      const timeoutMs = waitTimeoutMs(p.values);
      if (flag(p.values, 'dry-run')) {
        ctx.printJson(body);
        return Exit.ok;
      }
      const idem = str(p.values, 'idempotency-key');
      const job = await submitters[kind](ctx.client(), body, idem ? { idempotencyKey: idem } : {});
      if (!flag(p.values, 'wait')) {
        if (ctx.json) ctx.printJson({ job });
        else {
          ctx.out(`${job.id}\n`);
          ctx.err(`${kind} job ${job.status}; follow it with: kubeff jobs wait ${job.id}\n`);
        }
        return Exit.ok;
      }
      if (!ctx.json) ctx.out(`${job.id}\n`);
      return waitFor(ctx, job.id, { quiet: flag(p.values, 'quiet'), timeoutMs });
    },
  };
}

/** Follows a job's events to its end, showing progress, then prints the job; the exit status is its outcome. */
export async function waitFor(ctx: Ctx, id: string, o: { quiet: boolean; timeoutMs: number | undefined }): Promise<number> {
  const client = ctx.client();
  const reporter = new ProgressReporter(ctx.io.stderr, { tty: ctx.io.stderrIsTTY, quiet: o.quiet, ...(ctx.io.columns ? { columns: ctx.io.columns } : {}) });
  const timeout = o.timeoutMs !== undefined ? AbortSignal.timeout(o.timeoutMs) : undefined;
  const signals = [ctx.io.signal, timeout].filter((s): s is AbortSignal => s !== undefined);
  let final: JobEvent | undefined;
  try {
    const events = client.events(id, {
      onReconnect: ({ attempt, delayMs, reason }) => reporter.note(`connection lost (${reason}); reconnecting in ${(delayMs / 1000).toFixed(1)} s (attempt ${attempt})`),
      ...(signals.length ? { signal: AbortSignal.any(signals) } : {}),
    });
    // The iteration ends right after the job's final event.
    for await (const e of events) {
      showEvent(reporter, e);
      if (e.final) final = e;
    }
    if (!final) throw new Error(`the event stream of job ${id} ended without its final event`);
  } catch (err) {
    reporter.done();
    if (timeout?.aborted) {
      ctx.err(`stopped waiting after ${(o.timeoutMs ?? 0) / 1000} s; the job goes on: kubeff jobs wait ${id}\n`);
      return Exit.error;
    }
    if (ctx.io.signal?.aborted) {
      ctx.err(`\nstopped following; the job goes on: kubeff jobs wait ${id}\n`);
      return Exit.interrupted;
    }
    throw err;
  }
  reporter.done();
  // The finished job has the whole result (every output, metrics, the error with its field).
  let job: Job;
  try {
    job = await client.jobs.get(id);
  } catch (err) {
    ctx.err(`the job ended (${final.event}) but could not be read back: ${err instanceof Error ? err.message : String(err)}\n`);
    if (ctx.json) ctx.printJson({ id, event: final.event, data: safeJson(final.raw) });
    return final.event === 'complete' ? Exit.ok : Exit.failed;
  }
  if (ctx.json) ctx.printJson(job);
  else ctx.out(describeJob(job));
  return job.status === 'completed' ? Exit.ok : Exit.failed;
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

function showEvent(r: ProgressReporter, e: JobEvent): void {
  const data = e.data;
  const num = (k: string) => (typeof data[k] === 'number' ? (data[k] as number) : undefined);
  switch (e.event) {
    case 'progress': {
      const p: ProgressData = {};
      const set = <K extends keyof ProgressData>(k: K, v: ProgressData[K] | undefined) => {
        if (v !== undefined) p[k] = v;
      };
      set('percentage', num('percentage'));
      set('stage', typeof data['stage'] === 'string' ? data['stage'] : undefined);
      set('fps', num('fps'));
      set('speed', num('speed'));
      set('eta_seconds', num('eta_seconds'));
      r.progress(p);
      return;
    }
    case 'status': {
      const status = typeof data['status'] === 'string' ? data['status'] : 'status changed';
      const extra: string[] = [];
      if (typeof data['attempt'] === 'number' && data['attempt'] > 1) extra.push(`attempt ${data['attempt']}`);
      if (typeof data['reason'] === 'string') extra.push(data['reason']);
      if (typeof data['delay_seconds'] === 'number') extra.push(`retrying in ${data['delay_seconds']} s`);
      const err = data['error'] as { message?: unknown } | undefined;
      if (err && typeof err.message === 'string') extra.push(`after: ${err.message}`);
      r.note(`status ${status}${extra.length ? ` (${extra.join('; ')})` : ''}`);
      return;
    }
    case 'complete':
    case 'error':
    case 'cancelled':
      r.done();
      r.note(`status ${e.event === 'complete' ? 'completed' : e.event === 'error' ? 'failed' : 'cancelled'}`);
      return;
    default:
      return;
  }
}

const convert = submitCommand('convert', {
  usage: 'kubeff convert INPUT OUTPUT [flags] | kubeff convert --body FILE|-',
  summary: 'Convert a file (codecs, resolution, trim, operations)',
  positionals: [2, 2],
  options: {
    codec: { type: 'string' },
    'video-codec': { type: 'string' },
    preset: { type: 'string' },
    crf: { type: 'string' },
    'video-bitrate': { type: 'string' },
    resolution: { type: 'string' },
    fps: { type: 'string' },
    'pixel-format': { type: 'string' },
    profile: { type: 'string' },
    'audio-codec': { type: 'string' },
    'audio-bitrate': { type: 'string' },
    channels: { type: 'string' },
    'sample-rate': { type: 'string' },
    normalize: { type: 'boolean' },
    format: { type: 'string' },
    start: { type: 'string' },
    duration: { type: 'string' },
    end: { type: 'string' },
    op: { type: 'string', multiple: true },
    'target-vmaf': { type: 'string' },
    'max-bitrate': { type: 'string' },
    'vmaf-samples': { type: 'string' },
    'vmaf-min': { type: 'string' },
    'psnr-min': { type: 'string' },
    'ssim-min': { type: 'string' },
    'on-fail': { type: 'string' },
  },
  help: [
    'INPUT is a storage path (/storage/input/video.mov); OUTPUT a storage path',
    '(/storage/output/video.mp4) or just a format (mp4: written beside the input).',
    '',
    'Video:  --codec h264|h265|vp9|av1|copy  --preset ultrafast..veryslow  --crf N',
    '        --video-bitrate 5M  --resolution 1280x720|720p|4k  --fps N',
    '        --pixel-format yuv420p  --profile high',
    'Quality: --target-vmaf 93 (instead of --crf/--video-bitrate: the CRF is searched on samples)',
    '        --max-bitrate 4M (a cap)  --vmaf-samples N',
    '        --vmaf-min 90  --psnr-min 38  --ssim-min 0.95  --on-fail fail|reencode (a quality gate)',
    'Audio:  --audio-codec aac|mp3|opus|copy  --audio-bitrate 192k  --channels N',
    '        --sample-rate 48000  --normalize',
    'Output: --format mp4 (when the path has no extension)',
    'Trim:   --start SECONDS|HH:MM:SS  --duration SECONDS  --end SECONDS',
    'Other operations, as the API takes them (repeatable, applied in order):',
    '        --op \'{"type":"rotate","degrees":90}\'',
    '',
    'Example:',
    '  kubeff convert /storage/input/a.mov /storage/output/a.mp4 --codec h264 --crf 23 --resolution 720p --wait',
    '  kubeff convert /storage/input/a.mov /storage/output/a.mp4 --target-vmaf 93 --wait',
  ].join('\n'),
  build: convertBody,
});

const stream = submitCommand('stream', {
  usage: 'kubeff stream INPUT OUTDIR [--type hls|dash] [--variant RES:BITRATE[:NAME]]... [flags]',
  summary: 'Package adaptive streaming (HLS or DASH) with quality variants',
  positionals: [2, 2],
  options: {
    type: { type: 'string' },
    variant: { type: 'string', multiple: true },
    'segment-duration': { type: 'string' },
    'video-codec': { type: 'string' },
    'audio-bitrate': { type: 'string' },
    'max-variants': { type: 'string' },
    'min-bitrate': { type: 'string' },
    'max-bitrate': { type: 'string' },
  },
  help: [
    '  --type hls|dash              default hls',
    '  --variant 720p:2.5M          one rendition (repeatable; default 1080p, 720p and 480p);',
    '                               a third part names it: 1280x720:2500k:hd',
    '  --variant auto               a ladder built from the content (per title), with',
    '                               --max-variants N (default 5) --min-bitrate 150k --max-bitrate 6M',
    '  --segment-duration SECONDS   default 6',
    '  --video-codec h264|h265      --audio-bitrate 128k',
    '',
    'Example:',
    '  kubeff stream /storage/input/a.mp4 /storage/output/a-hls --variant 720p:2.5M --variant 480p:1M --wait',
  ].join('\n'),
  build: streamBody,
});

const analyze = submitCommand('analyze', {
  usage: 'kubeff analyze INPUT --reference REF [--metric vmaf|psnr|ssim]... [flags]',
  summary: 'Measure quality (VMAF, PSNR, SSIM) of an encode against its original',
  positionals: [1, 1],
  options: {
    reference: { type: 'string' },
    metric: { type: 'string', multiple: true },
    output: { type: 'string' },
  },
  help: [
    '  --reference REF      the original INPUT was encoded from (required)',
    '  --metric NAME        vmaf, psnr or ssim (repeatable or comma-separated; default all three)',
    '  --output PATH        where to write per-frame metrics',
    '',
    'Example:',
    '  kubeff analyze /storage/output/a.mp4 --reference /storage/input/a.mov --metric vmaf --wait',
  ].join('\n'),
  build: analyzeBody,
});

const jobsList: Command = {
  path: 'jobs list',
  summary: 'List jobs (a client key sees its own)',
  usage: 'kubeff jobs list [--status S] [--page N] [--per-page N] [--sort created_at:desc]',
  help: '  --status queued|processing|completed|failed|cancelled',
  options: { status: { type: 'string' }, page: { type: 'string' }, 'per-page': { type: 'string' }, sort: { type: 'string' } },
  async run(ctx, p) {
    positionalCount(p, 0, 0, this.usage);
    const v = p.values;
    const res = await ctx.client().jobs.list({
      // The server checks the value and names it when it is wrong.
      status: str(v, 'status') as JobListQuery['status'],
      page: num(v, 'page', { integer: true }),
      per_page: num(v, 'per-page', { integer: true }),
      sort: str(v, 'sort'),
    });
    if (ctx.json) ctx.printJson(res);
    else {
      ctx.out(res.jobs.length ? jobsTable(res.jobs) : 'no jobs\n');
      if (res.total !== undefined && res.pages !== undefined && res.pages > 1) ctx.err(`page ${res.page ?? 1} of ${res.pages} (${res.total} jobs)\n`);
    }
    return Exit.ok;
  },
};

const jobsGet: Command = {
  path: 'jobs get',
  summary: 'Show a job: status, outputs, metrics, error',
  usage: 'kubeff jobs get <id>',
  help: 'Exit status 0 whatever the job\'s state; 2 if it cannot be read.',
  options: {},
  async run(ctx, p) {
    positionalCount(p, 1, 1, this.usage);
    const job = await ctx.client().jobs.get(p.positionals[0] ?? '');
    if (ctx.json) ctx.printJson(job);
    else ctx.out(describeJob(job));
    return Exit.ok;
  },
};

const jobsWait: Command = {
  path: 'jobs wait',
  summary: 'Follow a job to its end with live progress',
  usage: 'kubeff jobs wait <id> [--quiet] [--wait-timeout SECONDS]',
  help: 'Exit status: 0 completed, 1 failed or cancelled, 2 the job cannot be read or the wait timed out.',
  options: { quiet: { type: 'boolean', short: 'q' }, 'wait-timeout': { type: 'string' } },
  async run(ctx, p) {
    positionalCount(p, 1, 1, this.usage);
    return waitFor(ctx, p.positionals[0] ?? '', { quiet: flag(p.values, 'quiet'), timeoutMs: waitTimeoutMs(p.values) });
  },
};

const jobsCancel: Command = {
  path: 'jobs cancel',
  summary: 'Cancel a job (its FFmpeg process stops)',
  usage: 'kubeff jobs cancel <id>',
  help: 'A finished job cannot be cancelled: the API answers 409 (exit 2).',
  options: {},
  async run(ctx, p) {
    positionalCount(p, 1, 1, this.usage);
    const job = await ctx.client().jobs.cancel(p.positionals[0] ?? '');
    if (ctx.json) ctx.printJson({ job });
    else ctx.out(`job ${job.id} ${job.status}\n`);
    return Exit.ok;
  },
};

const jobsLogs: Command = {
  path: 'jobs logs',
  summary: "Print a job's last FFmpeg log lines",
  usage: 'kubeff jobs logs <id> [--lines N]',
  help: '  --lines N   how many of the last lines (default 100, at most 10000)',
  options: { lines: { type: 'string' } },
  async run(ctx, p) {
    positionalCount(p, 1, 1, this.usage);
    const res = await ctx.client().jobs.logs(p.positionals[0] ?? '', { lines: num(p.values, 'lines', { integer: true }) });
    if (ctx.json) ctx.printJson(res);
    else ctx.out(res.lines.map((l) => `${l}\n`).join(''));
    return Exit.ok;
  },
};

export const submitCommands: Command[] = [convert, stream, analyze];
export const jobCommands: Command[] = [jobsList, jobsGet, jobsWait, jobsCancel, jobsLogs];
