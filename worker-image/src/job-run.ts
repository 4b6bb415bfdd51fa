// One worker run over a spec: check, probe, decide acceleration, plan, run FFmpeg, publish
// outputs, describe them. The I/O shell around the pure planners; split jobs extend it (split-run.ts).
import { copyFile, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Value from 'typebox/value';
import {
  ContainerRules,
  locationKind,
  MediaJobSpec,
  validateSpec,
  type Acceleration,
  type Chunking,
  type Metrics,
  type LadderRung,
  type OutputFile,
  type QualityResult,
  type StreamSpec,
  type Verification,
  type WorkerResult,
} from '@kubeff/crds';
import { decideAcceleration, nvdecCodecs } from './acceleration.ts';
import { capabilities, vmafStyle, type VmafStyle } from './capabilities.ts';
import type { EventSink } from './events.ts';
import { ExitCode, type ExitCodeValue } from './exit-codes.ts';
import { JobFailure } from './failure.ts';
import { parsePsnrSummary, parseSsimMean, parseStatsFile, parseVmafLog, summarize, round } from './metrics.ts';
import { describeFile, describeMedia, discard } from './outputs.ts';
import { MetricFiles, planAnalyze, VmafModelFiles } from './plan/analyze.ts';
import { convertExpectation, planConvert } from './plan/convert.ts';
import { nvencEncoderFor } from './plan/encoders.ts';
import { measurementFrom, parseLoudnorm, planLoudnessMeasure } from './plan/loudnorm.ts';
import { dashManifest, hlsMaster, planStream, type Rendition } from './plan/stream.ts';
import { gridLayout, planGrid, planThumbnail, spriteVtt } from './plan/thumbnails.ts';
import { trimOf } from './plan/operations.ts';
import type { JobEnvironment } from './job-environment.ts';
import type { FfmpegStep, InputRef, PlanContext } from './plan/types.ts';
import { probe, type MediaInfo } from './probe.ts';
import { redactor } from './redact.ts';
import { verifyDash, verifyHls, verifyImage, verifyMedia, type MediaExpectation } from './verify.ts';
import { belowTarget, betterSetting, gateResult, gateShortfall, measureOutput, metricsToMeasure, perTitleLadder, rewriteBandwidths, searchCrf, withLadder, withQuality, withTarget, type QualityHost } from './quality/run.ts';
import { runStep } from './runner.ts';
import type { Storage } from './storage.ts';
import type { Tools } from './tools.ts';


const now = () => new Date().toISOString();
export const defaultVmafModelDir = join(import.meta.dirname, '..', 'vmaf');

export interface Executed {
  outputs: OutputFile[];
  metrics?: Metrics | undefined;
  acceleration?: Acceleration | undefined;
  chunking?: Chunking | undefined;
  verification?: Verification | undefined;
  quality?: QualityResult | undefined;
}

/** One run of a worker over a spec: the I/O shell around the pure planners. */
export class JobRun {
  protected readonly spec: MediaJobSpec;
  protected readonly env: JobEnvironment;
  protected readonly cleanup: (string | undefined)[];
  private done = 0;
  /** Presigned URLs handed to FFmpeg, and the locations they stand for in log lines. */
  protected readonly secrets = new Map<string, string>();
  protected readonly redact = redactor(this.secrets);
  private scratchDir: string | undefined;

  constructor(spec: MediaJobSpec, env: JobEnvironment, cleanup: (string | undefined)[]) {
    this.spec = spec;
    this.env = env;
    this.cleanup = cleanup;
  }

  /** The job's private folder (side files, downloaded inputs, outputs on their way to S3). */
  protected async scratch(): Promise<string> {
    if (!this.scratchDir) {
      this.scratchDir = await mkdtemp(join(tmpdir(), `kubeff-${this.env.jobId}-`));
      this.cleanup.push(this.scratchDir);
    }
    return this.scratchDir;
  }

  /** Opens an input wherever it is: see Storage.mediaInput. */
  protected async open(location: string, field: string): Promise<InputRef> {
    if (locationKind(location) === 'http') this.stage('downloading');
    const { input, downloadedBytes } = await this.env.storage.mediaInput(location, field, await this.scratch(), { signal: this.env.signal, secrets: this.secrets }).catch((err: unknown) => {
      // A download stopped by cancellation is a cancellation, not a failure.
      this.checkAborted();
      throw err;
    });
    if (downloadedBytes !== undefined) this.log(`downloaded ${downloadedBytes} bytes for ${field}`);
    this.checkAborted();
    return input;
  }

  /** Publishes an output; uploads to S3 are shown as their own stage. */
  protected async publish(target: { location: string; publish(signal?: AbortSignal): Promise<void> }): Promise<void> {
    this.checkAborted();
    if (locationKind(target.location) === 's3') this.stage('uploading');
    await target.publish(this.env.signal).catch((err: unknown) => {
      this.checkAborted();
      throw err;
    });
  }

  async execute(): Promise<Executed> {
    const { spec, env } = this;
    this.stage('probing');
    const input = await this.open(spec.input.path, 'input.path');
    if (locationKind(spec.input.path) === 'http') this.stage('probing');
    // Probing the input and the FFmpeg build are independent: do both at once.
    const capsPromise = spec.type === 'analyze' ? undefined : capabilities(env.tools.ffmpeg);
    capsPromise?.catch(() => undefined);
    const inputInfo = await probe(env.tools, input, 'input.path');
    this.checkAborted();
    const executed = spec.type === 'analyze' || !capsPromise ? await this.analyze(input, inputInfo) : await this.transcode(input, inputInfo, await capsPromise);
    if (this.verified.outputs > 0) executed.verification = this.verification();
    if (spec.options.presignOutputSeconds !== undefined) {
      for (const o of executed.outputs) {
        if (locationKind(o.path) === 's3') o.url = await env.storage.presignDownload(o.path, spec.options.presignOutputSeconds, 'options.presign_outputs');
      }
    }
    return executed;
  }

  private async transcode(input: InputRef, inputInfo: MediaInfo, caps: Awaited<ReturnType<typeof capabilities>>): Promise<Executed> {
    const { spec, env } = this;
    const acceleration = this.accelerate(caps, inputInfo);
    const scratch = await this.scratch();
    const base = { spec, input, inputInfo, scratch, ffmpeg: env.tools.ffmpeg, encoders: caps.encoders, statsPeriod: caps.statsPeriod, acceleration, encoderThreads: env.encoderThreads };
    if (spec.type === 'stream') return { ...(await this.stream(base)), acceleration };
    return { ...(await this.convert(base)), acceleration };
  }

  protected accelerate(caps: Awaited<ReturnType<typeof capabilities>>, info: MediaInfo): Acceleration {
    const codec = this.spec.type === 'stream' ? this.spec.stream?.videoCodec : (this.spec.output?.video?.codec ?? (this.spec.output ? ContainerRules[this.spec.output.format].defaultVideo : undefined));
    const decision = decideAcceleration({
      requested: this.spec.options.hardwareAcceleration,
      nvencEncoder: codec ? nvencEncoderFor(codec) : undefined,
      workingNvenc: caps.workingNvenc,
      nvdec: caps.nvdec,
      inputDecodableOnGpu: info.video !== undefined && nvdecCodecs.has(info.video.codec),
      gpuNote: caps.gpuNote,
    });
    if (!decision.ok) throw new JobFailure('UNSUPPORTED_CAPABILITY', ExitCode.unavailable, decision.message, 'options.hardware_acceleration');
    return decision.acceleration;
  }

  private async convert(base: Omit<PlanContext, 'staging'>): Promise<Executed> {
    const { spec, env } = this;
    const out = spec.output;
    if (!out) throw new JobFailure('INVALID_OUTPUT', ExitCode.invalidSpec, 'is required', 'output');
    const watermarkOp = spec.operations.find((o) => o.type === 'watermark');
    const watermark = watermarkOp?.type === 'watermark' ? await this.open(watermarkOp.image, 'operations.watermark.image') : undefined;
    const thumb = spec.operations.find((o) => o.type === 'thumbnail');
    const grid = spec.operations.find((o) => o.type === 'thumbnail_grid');

    if (grid?.type === 'thumbnail_grid') {
      // A grid goes to a folder (sprite.jpg + sprite.vtt) unless the path names an image file.
      const isFile = /\.(jpe?g|png|webp)$/i.test(out.path);
      const target = await env.storage.dirOutput(isFile ? out.path.replace(/\/[^/]*$/, '') : out.path, 'output.path', env.jobId, base.scratch);
      this.cleanup.push(target.staging);
      const imageName = isFile ? out.path.slice(out.path.lastIndexOf('/') + 1) : `sprite.${out.format}`;
      const vttName = imageName.replace(/\.[^.]+$/, '') + '.vtt';
      const staging = target.staging;
      const plan = planGrid({ ...base, staging, watermark }, grid, join(staging, imageName));
      await this.runSteps(plan.steps);
      const seconds = trimOf(spec.operations, base.inputInfo.durationSeconds).seconds;
      await writeFile(join(staging, vttName), spriteVtt(grid, gridLayout(grid, seconds), seconds, imageName));
      await this.checkImage(join(staging, imageName), target.locationOf(imageName));
      await this.publish(target);
      return {
        outputs: [
          await this.describeOutput(join(staging, imageName), target.described(imageName), target.locationOf(imageName), 'image'),
          await describeFile(target.described(vttName), target.locationOf(vttName), 'sprite-map'),
        ],
      };
    }

    if (thumb?.type === 'thumbnail' && (thumb.count !== undefined || thumb.interval !== undefined)) {
      const target = await env.storage.dirOutput(out.path, 'output.path', env.jobId, base.scratch);
      this.cleanup.push(target.staging);
      const plan = planThumbnail({ ...base, staging: target.staging, watermark }, thumb);
      await this.runSteps(plan.steps);
      const names = (await readdir(target.staging)).sort();
      for (const n of names) await this.checkImage(join(target.staging, n), target.locationOf(n));
      await this.publish(target);
      return { outputs: await Promise.all(names.map((n) => this.describeOutput(join(target.staging, n), target.described(n), target.locationOf(n), 'image'))) };
    }

    const target = await env.storage.fileOutput(out.path, 'output.path', env.jobId, base.scratch);
    this.cleanup.push(target.staging);
    const ctx: PlanContext = { ...base, staging: target.staging, watermark };
    if (thumb?.type === 'thumbnail') {
      await this.runSteps(planThumbnail(ctx, thumb).steps);
      await this.checkImage(target.staging, target.location);
      await this.publish(target);
      return { outputs: [await this.describeOutput(target.staging, target.described, target.location, 'image')] };
    }
    let metrics: Metrics | undefined;
    if (out.audio?.normalize && base.inputInfo.audio) {
      const measure = planLoudnessMeasure(ctx);
      const { tail } = await this.runSteps([measure], 1 - measure.weight);
      ctx.loudness = measurementFrom(parseLoudnorm(tail.join('\n')));
      metrics = { loudnessInput: { integrated: ctx.loudness.input_i, truePeak: ctx.loudness.input_tp, range: ctx.loudness.input_lra, threshold: ctx.loudness.input_thresh } };
    }
    // Quality: a CRF searched on samples first (target VMAF), the output measured after (target
    // VMAF, quality gate); the encode gets what is left of the progress.
    const v = out.video;
    const gate = spec.options.qualityGate;
    const toMeasure = metricsToMeasure(v?.targetVmaf !== undefined, gate);
    const quality: QualityResult = {};
    let encodeCtx = ctx;
    let search: Awaited<ReturnType<typeof searchCrf>> | undefined;
    if (v?.targetVmaf !== undefined) {
      search = await searchCrf(this.qualityHost(), ctx, planConvert(ctx).outputSeconds);
      encodeCtx = withQuality(ctx, { crf: search.crf });
    }
    const plan = planConvert(encodeCtx);
    const measureShare = toMeasure.length ? 0.15 : 0;
    for (const step of plan.steps) step.weight = Math.max(0, 1 - this.progressDone() - measureShare);
    const tail = await this.encodeAndCheck(plan.steps, target, encodeCtx, plan.outputSeconds);
    if (ctx.loudness && metrics) {
      const after = parseLoudnorm(tail.join('\n'));
      metrics.loudnessOutput = { integrated: Number(after['output_i']), truePeak: Number(after['output_tp']), range: Number(after['output_lra']), threshold: Number(after['output_thresh']) };
    }
    if (toMeasure.length) {
      let m = await measureOutput(this.qualityHost(), encodeCtx, target.staging, toMeasure, measureShare);
      let reencoded: ReturnType<typeof betterSetting> | undefined;
      const short = gate ? gateShortfall(gate, m) : undefined;
      if (gate && short) {
        if (gate.onFail !== 'reencode') throw belowTarget(short, false);
        // Once, at a better setting, before failing: with a VMAF threshold, the CRF searched for
        // a little above it; otherwise six CRF steps better, or half again the bitrate.
        reencoded = gate.vmafMin !== undefined
          ? { crf: (await searchCrf(this.qualityHost(), withTarget(ctx, Math.min(99, gate.vmafMin + 1.5)), plan.outputSeconds)).crf }
          : betterSetting(encodeCtx, { crf: search?.crf ?? v?.crf, bitrate: v?.bitrate });
        this.log(`quality gate: ${short.metric.toUpperCase()} ${short.measured.toFixed(2)} is below ${short.required}; re-encoding once with ${reencoded.crf !== undefined ? `CRF ${reencoded.crf}` : `${reencoded.bitrate} b/s`}`);
        encodeCtx = withQuality(ctx, reencoded);
        const again = planConvert(encodeCtx);
        for (const step of again.steps) step.weight = 0;
        await this.encodeAndCheck(again.steps, target, encodeCtx, again.outputSeconds);
        m = await measureOutput(this.qualityHost(), encodeCtx, target.staging, toMeasure, 0);
        const still = gateShortfall(gate, m);
        if (still) throw belowTarget(still, true);
      }
      if (gate) quality.gate = gateResult(m, true, reencoded);
      if (search) quality.targetVmaf = { ...search, ...(m.vmaf ? { measured: m.vmaf } : {}) };
    }
    await this.publish(target);
    return { outputs: [await this.describeOutput(target.staging, target.described, target.location, 'media')], metrics, ...(Object.keys(quality).length ? { quality } : {}) };
  }

  /** Runs an encode into a staged file and verifies it. */
  private async encodeAndCheck(steps: FfmpegStep[], target: { staging: string; location: string }, ctx: PlanContext, outputSeconds: number): Promise<string[]> {
    const { tail } = await this.runSteps(steps);
    await this.checkMedia(target.staging, target.location, convertExpectation(ctx, outputSeconds));
    return tail;
  }

  /** How much of the job's progress the steps so far have used, 0..1. */
  protected progressDone(): number {
    return this.done;
  }

  /** What the quality steps (quality/run.ts) need of this run. */
  protected qualityHost(): QualityHost {
    return {
      runSteps: (steps) => this.runSteps(steps),
      scratch: () => this.scratch(),
      log: (line) => this.log(line),
      checkAborted: () => this.checkAborted(),
      vmafTool: async () => {
        const t = await this.metricsTool(true);
        return { ffmpeg: t.ffmpeg, style: t.vmafStyle as VmafStyle };
      },
      modelDir: this.env.vmafModelDir ?? defaultVmafModelDir,
    };
  }

  private async stream(given: Omit<PlanContext, 'staging'>): Promise<Executed> {
    let base = given;
    const { spec, env } = this;
    const s = spec.stream;
    if (!s) throw new JobFailure('INVALID_OUTPUT', ExitCode.invalidSpec, 'is required', 'stream');
    // A per-title ladder is built from samples of the content first; then it is a ladder like any.
    let ladder: LadderRung[] | undefined;
    if (s.perTitle) {
      ladder = (await perTitleLadder(this.qualityHost(), { ...base, staging: base.scratch }, s.perTitle)).rungs;
      base = { ...base, spec: withLadder(spec, ladder) };
    }
    const target = await env.storage.dirOutput(s.path, 'output', env.jobId, base.scratch);
    this.cleanup.push(target.staging);
    const plan = planStream({ ...base, staging: target.staging });
    if (plan.dropped.length) this.log(`skipped renditions larger than the source: ${plan.dropped.join(', ')}`);
    await this.runSteps(plan.steps);
    await this.checkLadder(target, s, plan.outputSeconds);
    const rungs = ladder ? await this.honestLadder(target.staging, s, ladder) : undefined;
    await this.publish(target);
    return { outputs: await this.describeLadder(target, s, plan.renditions), ...(rungs ? { quality: { ladder: rungs } } : {}) };
  }

  /**
   * A per-title HLS ladder's master playlist gets the bandwidths its segments really have
   * (BANDWIDTH: the peak, AVERAGE-BANDWIDTH); the rungs report them too.
   */
  protected async honestLadder(dir: string, s: StreamSpec, ladder: LadderRung[]): Promise<LadderRung[]> {
    if (s.format !== 'hls') return ladder;
    const rates = await rewriteBandwidths(dir, hlsMaster);
    return ladder.map((r) => {
      const rate = rates.get(`${r.name}/index.m3u8`);
      return rate ? { ...r, peakBitrate: rate.peak, averageBitrate: rate.average } : r;
    });
  }

  // --- Verification of outputs before they are published (options.verify) -------------------

  private readonly verified = { outputs: 0, checks: new Set<string>(), seconds: 0 };

  /** The verification to report, when the run checked anything. */
  protected verifiedPart(): { verification?: Verification } {
    return this.verified.outputs > 0 ? { verification: this.verification() } : {};
  }

  protected verification(): Verification {
    return { outputs: this.verified.outputs, checks: [...this.verified.checks], seconds: round(this.verified.seconds, 3) };
  }

  private async checked<T>(checks: string[], fn: () => Promise<T>): Promise<T | undefined> {
    if (this.spec.options.verify === false) return undefined;
    this.checkAborted();
    this.stage('verifying');
    const began = performance.now();
    const out = await fn();
    this.verified.seconds += (performance.now() - began) / 1000;
    this.verified.outputs++;
    for (const c of checks) this.verified.checks.add(c);
    return out;
  }

  /** Verification's probe of each staged output, by staged path: describing it needs no second probe. */
  private readonly probedOutputs = new Map<string, MediaInfo>();

  /** Describes a published media output, from verification's probe of its staged file when there is one. */
  protected describeOutput(staged: string, described: string, location: string, role: OutputFile['role']): Promise<OutputFile> {
    return describeMedia(this.env.tools, described, location, role, this.probedOutputs.get(staged));
  }

  private get verifyTools() {
    return { ffmpeg: this.env.tools.ffmpeg, ffprobe: this.env.tools, signal: this.env.signal };
  }

  /** A media output, staged: it opens, has the streams and length asked for, and decodes whole. */
  protected async checkMedia(file: string, shown: string, e: MediaExpectation): Promise<void> {
    // A file written again (a gate's re-encode) is probed again: never describe an older probe.
    this.probedOutputs.delete(file);
    const info = await this.checked(['decode', 'streams', ...(e.seconds !== undefined ? ['duration'] : [])], () => verifyMedia(this.verifyTools, file, shown, e));
    if (info) this.probedOutputs.set(file, info);
  }

  protected async checkImage(file: string, shown: string): Promise<void> {
    this.probedOutputs.delete(file);
    const info = await this.checked(['decode'], () => verifyImage(this.verifyTools, file, shown));
    if (info) this.probedOutputs.set(file, info);
  }

  /** A staged HLS/DASH folder: playlists, segments, length (within a segment), every segment decoding. */
  protected checkLadder(target: Awaited<ReturnType<Storage['dirOutput']>>, s: StreamSpec, seconds: number): Promise<void> {
    const expect = { seconds, segmentSeconds: s.segmentDuration };
    const shownOf = (name: string) => target.locationOf(name);
    return this.checked(['decode', 'segments', 'duration'], () =>
      s.format === 'hls' ? verifyHls(this.verifyTools, target.staging, hlsMaster, shownOf, expect) : verifyDash(this.verifyTools, target.staging, dashManifest, shownOf, expect));
  }

  /** The outputs of a published ladder: its master playlist or MPD, then (HLS) each rendition's playlist. */
  protected async describeLadder(target: Awaited<ReturnType<Storage['dirOutput']>>, s: StreamSpec, renditions: readonly Rendition[]): Promise<OutputFile[]> {
    const top = s.format === 'hls' ? hlsMaster : dashManifest;
    const outputs: OutputFile[] = [await describeMedia(this.env.tools, target.described(top), target.locationOf(top), s.format === 'hls' ? 'playlist' : 'manifest')];
    if (s.format === 'hls') {
      for (const r of renditions) {
        const f = await describeFile(target.described(`${r.name}/index.m3u8`), target.locationOf(`${r.name}/index.m3u8`), 'playlist');
        outputs.push({ ...f, width: r.size.width, height: r.size.height, bitrate: r.bitrate });
      }
    }
    return outputs;
  }

  private async analyze(input: InputRef, inputInfo: MediaInfo): Promise<Executed> {
    const { spec, env } = this;
    const a = spec.analyze;
    if (!a) throw new JobFailure('INVALID_REQUEST', ExitCode.invalidSpec, 'is required', 'analyze');
    const reference = await this.open(a.reference, 'reference');
    const referenceInfo = await probe(env.tools, reference, 'reference');
    const tool = await this.metricsTool(a.metrics.includes('vmaf'));
    // Its own folder: the stats files and models are named relatively inside it.
    const scratch = await mkdtemp(join(await this.scratch(), 'metrics-'));
    if (tool.vmafStyle) {
      const dir = env.vmafModelDir ?? defaultVmafModelDir;
      const files = tool.vmafStyle === 'model' ? [VmafModelFiles.model] : ['vmaf_float_v0.6.1.pkl', 'vmaf_float_v0.6.1.pkl.model'];
      const names = tool.vmafStyle === 'model' ? [VmafModelFiles.model] : [VmafModelFiles.model_path, `${VmafModelFiles.model_path}.model`];
      await Promise.all(files.map((f, i) => copyFile(join(dir, f), join(scratch, names[i] as string))));
    }
    const caps = await capabilities(tool.ffmpeg);
    const ctx: PlanContext = {
      spec, input, inputInfo, reference, referenceInfo, scratch, staging: scratch, ffmpeg: tool.ffmpeg, encoders: caps.encoders, statsPeriod: caps.statsPeriod,
      acceleration: { decode: 'cpu', encode: 'cpu', reason: 'metrics are computed on the CPU' },
    };
    const plan = planAnalyze(ctx, tool);
    const { tail } = await this.runSteps(plan.steps);

    const metrics: Metrics = {};
    const perFrame: Record<string, number[]> = {};
    if (a.metrics.includes('psnr')) {
      perFrame['psnr'] = parseStatsFile(await readFile(join(scratch, MetricFiles.psnr), 'utf8'), 'psnr_avg');
      metrics.psnr = parsePsnrSummary(tail) ?? summarize(perFrame['psnr']);
    }
    if (a.metrics.includes('ssim')) {
      perFrame['ssim'] = parseStatsFile(await readFile(join(scratch, MetricFiles.ssim), 'utf8'), 'All');
      metrics.ssim = summarize(perFrame['ssim'], parseSsimMean(tail));
    }
    if (a.metrics.includes('vmaf')) {
      const log = parseVmafLog(await readFile(join(scratch, MetricFiles.vmaf), 'utf8'));
      perFrame['vmaf'] = log.frames;
      metrics.vmaf = summarize(log.frames, log.mean);
    }
    metrics.frames = Math.max(...Object.values(perFrame).map((v) => v.length));

    // The per-frame report goes to storage; the result stays small (it becomes a termination message).
    const reportDir = a.path ?? `/storage/analysis/${env.jobId}`;
    const target = await env.storage.fileOutput(`${reportDir}/metrics.json`, 'output', env.jobId, await this.scratch());
    this.cleanup.push(target.staging);
    const frames = Array.from({ length: metrics.frames }, (_, n) => ({ n, ...Object.fromEntries(Object.entries(perFrame).map(([k, v]) => [k, v[n]])) }));
    // Locations as the client wrote them, but never a URL's query (it may hold a signature).
    const shown = (loc: string) => (locationKind(loc) === 'http' ? loc.replace(/\?.*$/, '') : loc);
    await writeFile(target.staging, JSON.stringify({ input: shown(spec.input.path), reference: shown(a.reference), summary: metrics, frames }, null, 1));
    await this.publish(target);
    metrics.perFramePath = target.location;
    return { outputs: [await describeFile(target.described, metrics.perFramePath, 'metrics')], metrics };
  }

  /** The main FFmpeg, or for VMAF the first candidate build that has libvmaf. */
  protected async metricsTool(needVmaf: boolean): Promise<{ ffmpeg: string; vmafStyle: Awaited<ReturnType<typeof vmafStyle>> }> {
    if (!needVmaf) return { ffmpeg: this.env.tools.ffmpeg, vmafStyle: undefined };
    for (const ffmpeg of this.env.tools.vmafCandidates) {
      const style = await vmafStyle(ffmpeg);
      if (style) return { ffmpeg, vmafStyle: style };
    }
    throw new JobFailure('UNSUPPORTED_CAPABILITY', ExitCode.unavailable, 'VMAF needs an FFmpeg built with libvmaf; none was found (set KUBEFF_VMAF_FFMPEG_PATH)', 'metrics');
  }

  /** Runs steps in order, mapping each one's progress onto the job's 0..100. */
  protected async runSteps(steps: FfmpegStep[], reserve = 0): Promise<{ tail: string[] }> {
    let tail: string[] = [];
    for (const step of steps) {
      this.checkAborted();
      this.stage(step.stage);
      const offset = this.done;
      const weight = step.weight;
      let last = -1;
      const res = await runStep(
        step,
        {
          onProgress: (p) => {
            const percentage = Math.min(100, Math.round((offset + (weight * p.percentage) / 100) * 1000) / 10);
            if (percentage === last && p.percentage < 100) return;
            last = percentage;
            const pct = reserve > 0 ? Math.min(percentage, 99.9) : percentage;
            this.env.sink.emit({ type: 'progress', time: now(), stage: step.stage, percentage: pct, fps: p.fps, speed: p.speed, etaSeconds: p.etaSeconds });
          },
          onLog: (line) => this.log(line),
        },
        this.env.signal,
      );
      this.done = offset + weight;
      tail = res.tail;
    }
    return { tail };
  }

  protected stage(stage: string): void {
    this.env.sink.emit({ type: 'stage', time: now(), stage });
  }

  protected log(line: string): void {
    this.env.sink.emit({ type: 'log', time: now(), line: this.redact(line) });
  }

  protected checkAborted(): void {
    if (this.env.signal?.aborted) throw new JobFailure('CANCELLED', ExitCode.cancelled, 'job was cancelled');
  }
}

