// The stages of a split job, each one worker run (a pod in cluster mode, a child process in
// standalone mode):
//   plan    probe the input, list its frames, cut it into chunks  -> plan.json
//   chunk   encode chunk i (video only)                           -> chunk-000i.nut + .json
//   merge   concatenate the chunks, encode the audio once, mux, publish the output, remove the folder
//   cleanup remove the folder of a job that failed or was cancelled
// The folder is /storage/.kubeff/split/<job id>/ on the shared storage every stage mounts; no
// user path may point there (crds/src/paths.ts).
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ReservedFolder, locationKind, type Acceleration, type Chunking, type MediaJobSpec, type LadderRung, type Metrics, type QualityResult, type TargetVmafResult } from '@kubeff/crds';
import { capabilities } from './capabilities.ts';
import { ExitCode } from './exit-codes.ts';
import { JobFailure } from './failure.ts';
import { JobRun, type Executed } from './job-run.ts';
import type { JobEnvironment, SplitStage } from './job-environment.ts';
import { round } from './metrics.ts';
import { convertExpectation } from './plan/convert.ts';
import { belowTarget, gateResult, gateShortfall, measureOutput, metricsToMeasure, perTitleLadder, searchCrf, withLadder, withQuality } from './quality/run.ts';
import { measurementFrom, parseLoudnorm, planLoudnessMeasure } from './plan/loudnorm.ts';
import { chunkFile, chunkReport, concatList, concatListFile, planChunk, planLadderChunk, planLadderMerge, planMerge, planSplit, planSplitAudio, splitInputRefusal, unsplit, type SplitPlan } from './plan/split.ts';
import { streamRenditions } from './plan/stream.ts';
import type { InputRef, PlanContext } from './plan/types.ts';
import { frameIndex, probe, type MediaInfo } from './probe.ts';
import type { Storage } from './storage.ts';

/** What the plan stage leaves for the others. */
export interface SplitPlanFile {
  version: 1;
  /** Where the chunks read the input: the job's own, or the plan stage's download of a URL. */
  input: string;
  info: MediaInfo;
  acceleration: Acceleration;
  plan: SplitPlan;
  /** A target-VMAF job: the CRF the plan stage searched, which every chunk encodes with. */
  search?: Omit<TargetVmafResult, 'measured'> | undefined;
  /** A per-title ladder: the rungs the plan stage chose, which every chunk encodes. */
  ladder?: LadderRung[] | undefined;
}

/** What a chunk stage leaves beside its chunk. */
export interface ChunkReportFile {
  index: number;
  encodeSeconds: number;
  frames?: number | undefined;
}

/** What the audio stage leaves beside the audio. */
export interface AudioReportFile {
  encodeSeconds: number;
  metrics?: Metrics | undefined;
}

const audioReport = 'audio.json';

const jobIdRe = /^[A-Za-z0-9][A-Za-z0-9_-]{0,252}$/;

/** The host folder of a split job's working files. */
export function splitDir(storage: Storage, jobId: string): string {
  if (!jobIdRe.test(jobId)) throw new JobFailure('INVALID_REQUEST', ExitCode.invalidSpec, `job id '${jobId.slice(0, 64)}' cannot name a folder`, 'job');
  return storage.hostPath(`/storage/${ReservedFolder}/split/${jobId}`, 'job');
}

/** Pure: the user-facing account of a plan. */
export function chunkingOf(plan: SplitPlan, encodeSeconds?: number[], audioEncodeSeconds?: number): Chunking {
  const last = plan.chunks[plan.chunks.length - 1];
  const end = last?.end ?? plan.timeline.outputSeconds;
  return {
    count: plan.count,
    boundaries: [...plan.chunks.map((c) => round(c.start, 6)), round(end, 6)],
    onKeyframes: plan.chunks.filter((c) => c.onKeyframe).length,
    parallelism: plan.concurrency,
    ...(encodeSeconds ? { encodeSeconds } : {}),
    ...(plan.count > 1 && plan.audio ? { audio: true } : {}),
    ...(audioEncodeSeconds !== undefined ? { audioEncodeSeconds } : {}),
  };
}

export class SplitRun extends JobRun {
  private readonly which: SplitStage;
  private readonly dir: string;

  constructor(spec: MediaJobSpec, env: JobEnvironment, cleanup: (string | undefined)[], which: SplitStage) {
    super(spec, env, cleanup);
    this.which = which;
    this.dir = splitDir(env.storage, env.jobId);
  }

  override async execute(): Promise<Executed> {
    switch (this.which.stage) {
      case 'plan':
        return this.plan(this.which.capacity);
      case 'chunk':
        return this.chunk(this.which.index);
      case 'audio':
        return this.audio();
      case 'merge':
        return this.merge();
      case 'cleanup':
        await rm(this.dir, { recursive: true, force: true });
        return { outputs: [] };
    }
  }

  protected override log(line: string): void {
    super.log(this.which.stage === 'chunk' ? `[chunk ${this.which.index}] ${line}` : `[${this.which.stage}] ${line}`);
  }

  private async plan(capacity: number): Promise<Executed> {
    const { spec, env } = this;
    if (spec.type !== 'convert' && spec.type !== 'stream') throw new JobFailure('INVALID_REQUEST', ExitCode.invalidSpec, 'only convert and stream jobs are split', 'options.parallelism');
    await mkdir(this.dir, { recursive: true });
    this.stage('probing');
    // A URL is downloaded once, into the job's folder, for every chunk to read.
    const url = locationKind(spec.input.path) === 'http';
    const input = url ? await this.downloadForChunks() : { ref: await this.open(spec.input.path, 'input.path'), location: spec.input.path };
    const capsPromise = capabilities(env.tools.ffmpeg);
    capsPromise.catch(() => undefined);
    const info = await probe(env.tools, input.ref, 'input.path');
    const acceleration = this.accelerate(await capsPromise, info);
    const refusal = splitInputRefusal(info);
    if (refusal && spec.options.parallelism !== 'auto') throw JobFailure.invalidInput(`cannot split this job: ${refusal}`, 'options.parallelism');
    this.stage('planning');
    const plan = refusal
      ? unsplit(spec, info)
      : planSplit(spec, info, await frameIndex(env.tools, input.ref, 'input.path'), { parallelism: spec.options.parallelism ?? 1, chunkSeconds: spec.options.chunkSeconds, capacity });
    this.checkAborted();
    if (plan.count <= 1) {
      // Not split after all: the job runs whole and needs no working folder.
      await rm(this.dir, { recursive: true, force: true });
      this.log('1 chunk: the job runs as one FFmpeg');
      return { outputs: [], acceleration, chunking: chunkingOf(plan) };
    }
    const file: SplitPlanFile = { version: 1, input: input.location, info, acceleration, plan };
    if (spec.type === 'convert' && spec.output?.video?.targetVmaf !== undefined) {
      // One search for the whole job, on samples of the whole input: every chunk gets its CRF.
      file.search = await searchCrf(this.qualityHost(), await this.context(file, input.ref, this.dir), plan.timeline.outputSeconds);
    }
    if (spec.type === 'stream' && spec.stream?.perTitle) {
      // One ladder for the whole job, from samples of the whole input.
      file.ladder = (await perTitleLadder(this.qualityHost(), await this.context(file, input.ref, this.dir), spec.stream.perTitle)).rungs;
    }
    await writeJson(join(this.dir, 'plan.json'), file);
    this.log(`${plan.count} chunk(s), ${plan.chunks.filter((c) => c.onKeyframe).length} on keyframes, at most ${plan.concurrency} at once`);
    return { outputs: [], acceleration, chunking: chunkingOf(plan) };
  }

  /** Downloads a URL input into the job's folder; the chunks and the merge read that file. */
  private async downloadForChunks(): Promise<{ ref: InputRef; location: string }> {
    this.stage('downloading');
    const { input, downloadedBytes } = await this.env.storage.mediaInput(this.spec.input.path, 'input.path', this.dir, { signal: this.env.signal, secrets: this.secrets });
    this.checkAborted();
    if (typeof input !== 'string') throw new Error('internal: a downloaded input is a local file');
    if (downloadedBytes !== undefined) this.log(`downloaded ${downloadedBytes} bytes for input.path`);
    return { ref: input, location: this.env.storage.storagePath(input) };
  }

  private async readPlan(): Promise<SplitPlanFile> {
    try {
      const file = JSON.parse(await readFile(join(this.dir, 'plan.json'), 'utf8')) as SplitPlanFile;
      if (file.version !== 1) throw new Error(`version ${String(file.version)}`);
      return file;
    } catch (err) {
      throw new JobFailure('PROCESSING_FAILED', ExitCode.internal, `the split plan of this job is missing or unreadable (${(err as Error).message}); the plan stage must run first`);
    }
  }

  /** The input as planned: the job's location, or the plan stage's download (a storage path). */
  private async planned(file: SplitPlanFile): Promise<InputRef> {
    if (file.input === this.spec.input.path) return this.open(file.input, 'input.path');
    return this.env.storage.input(file.input, 'input.path');
  }

  private async context(file: SplitPlanFile, input: InputRef, staging: string): Promise<PlanContext> {
    const { spec, env } = this;
    const caps = await capabilities(env.tools.ffmpeg);
    // Every chunk must come from the same encoder; decoding may differ from node to node. The
    // merge encodes no video: it may run on a node without a GPU.
    if (this.which.stage === 'chunk' && file.acceleration.encode === 'nvenc' && !caps.workingNvenc) {
      throw new JobFailure('UNSUPPORTED_CAPABILITY', ExitCode.unavailable, 'this split job encodes with NVENC, and this node has no working NVENC', 'options.hardware_acceleration');
    }
    const acceleration: Acceleration = file.acceleration.decode === 'nvdec' && !caps.nvdec ? { ...file.acceleration, decode: 'cpu' } : file.acceleration;
    const watermarkOp = spec.operations.find((o) => o.type === 'watermark');
    const watermark = watermarkOp?.type === 'watermark' ? await this.open(watermarkOp.image, 'operations.watermark.image') : undefined;
    const ctx: PlanContext = {
      spec: file.ladder ? withLadder(spec, file.ladder) : spec, input, inputInfo: file.info, watermark, scratch: await this.scratch(), staging, ffmpeg: env.tools.ffmpeg,
      encoders: caps.encoders, statsPeriod: caps.statsPeriod, acceleration, encoderThreads: env.encoderThreads,
    };
    return file.search ? withQuality(ctx, { crf: file.search.crf }) : ctx;
  }

  private async chunk(index: number): Promise<Executed> {
    const file = await this.readPlan();
    if (index < 0 || index >= file.plan.count) {
      throw new JobFailure('INVALID_REQUEST', ExitCode.invalidSpec, `chunk ${index} is not in the plan (${file.plan.count} chunks)`, 'chunk');
    }
    this.stage('probing');
    const input = await this.planned(file);
    const finalPath = join(this.dir, chunkFile(index));
    // Private per attempt: a retried chunk never sees a half-written file of the one before.
    const staging = join(this.dir, `.${chunkFile(index)}.${process.pid}.part`);
    this.cleanup.push(staging);
    const ctx = await this.context(file, input, staging);
    const began = performance.now();
    await this.runSteps([this.spec.type === 'stream' ? planLadderChunk(ctx, file.plan, index, staging) : planChunk(ctx, file.plan, index, staging)]);
    const encodeSeconds = round((performance.now() - began) / 1000, 3);
    this.checkAborted();
    await rename(staging, finalPath);
    const report: ChunkReportFile = { index, encodeSeconds, frames: file.plan.chunks[index]?.frames };
    await writeJson(join(this.dir, chunkReport(index)), report);
    return { outputs: [], acceleration: ctx.acceleration };
  }

  /** The audio, once over the whole input, while the chunks encode; the merge copies it. */
  private async audio(): Promise<Executed> {
    const file = await this.readPlan();
    const part = file.plan.audio;
    if (!part) return { outputs: [] };
    this.stage('probing');
    const input = await this.planned(file);
    const finalPath = join(this.dir, part.file);
    const staging = join(this.dir, `.${part.file}.${process.pid}.part`);
    this.cleanup.push(staging);
    const ctx = await this.context(file, input, staging);
    const began = performance.now();
    let metrics: Metrics | undefined;
    const normalize = this.spec.type === 'convert' && this.spec.output?.audio?.normalize === true;
    if (normalize) {
      const measure = planLoudnessMeasure(ctx);
      const { tail } = await this.runSteps([measure], 1 - measure.weight);
      ctx.loudness = measurementFrom(parseLoudnorm(tail.join('\n')));
      metrics = { loudnessInput: { integrated: ctx.loudness.input_i, truePeak: ctx.loudness.input_tp, range: ctx.loudness.input_lra, threshold: ctx.loudness.input_thresh } };
    }
    const step = planSplitAudio(ctx, part, staging);
    if (normalize) step.weight = 1 - 0.15;
    const { tail } = await this.runSteps([step]);
    if (normalize && metrics) {
      const after = parseLoudnorm(tail.join('\n'));
      metrics.loudnessOutput = { integrated: Number(after['output_i']), truePeak: Number(after['output_tp']), range: Number(after['output_lra']), threshold: Number(after['output_thresh']) };
    }
    this.checkAborted();
    await rename(staging, finalPath);
    const report: AudioReportFile = { encodeSeconds: round((performance.now() - began) / 1000, 3), metrics };
    await writeJson(join(this.dir, audioReport), report);
    return { outputs: [], metrics };
  }

  /** The audio encoded beside the chunks, when the plan has one; missing, it fails the merge. */
  private async audioOf(file: SplitPlanFile): Promise<{ path: string; report: AudioReportFile } | undefined> {
    const part = file.plan.audio;
    if (!part) return undefined;
    try {
      const path = join(this.dir, part.file);
      await stat(path);
      return { path, report: JSON.parse(await readFile(join(this.dir, audioReport), 'utf8')) as AudioReportFile };
    } catch {
      throw new JobFailure('PROCESSING_FAILED', ExitCode.internal, 'the audio of this split job is missing; it must be encoded before the merge');
    }
  }

  /** Every chunk's report, in order; a missing chunk fails the merge. */
  private async chunkReports(file: SplitPlanFile): Promise<number[]> {
    const reports: ChunkReportFile[] = [];
    for (const c of file.plan.chunks) {
      try {
        await stat(join(this.dir, chunkFile(c.index)));
        reports.push(JSON.parse(await readFile(join(this.dir, chunkReport(c.index)), 'utf8')) as ChunkReportFile);
      } catch {
        throw new JobFailure('PROCESSING_FAILED', ExitCode.internal, `chunk ${c.index} of ${file.plan.count} is missing; it must be encoded before the merge`);
      }
    }
    return reports.sort((a, b) => a.index - b.index).map((r) => r.encodeSeconds);
  }

  private async merge(): Promise<Executed> {
    const { spec, env } = this;
    const file = await this.readPlan();
    if (spec.type === 'stream') return this.mergeLadder(file);
    const out = spec.output;
    if (!out) throw new JobFailure('INVALID_OUTPUT', ExitCode.invalidSpec, 'is required', 'output');
    const encodeSeconds = await this.chunkReports(file);
    const audio = await this.audioOf(file);
    const listPath = join(this.dir, concatListFile);
    await writeFile(listPath, concatList(file.plan));
    this.stage('probing');
    const input = await this.planned(file);
    const target = await env.storage.fileOutput(out.path, 'output.path', env.jobId, await this.scratch());
    this.cleanup.push(target.staging);
    const ctx = await this.context(file, input, target.staging);
    let metrics: Metrics | undefined = audio?.report.metrics;
    if (!audio && out.audio?.normalize && file.info.audio) {
      const measure = planLoudnessMeasure(ctx);
      const { tail } = await this.runSteps([measure], 1 - measure.weight);
      ctx.loudness = measurementFrom(parseLoudnorm(tail.join('\n')));
      metrics = { loudnessInput: { integrated: ctx.loudness.input_i, truePeak: ctx.loudness.input_tp, range: ctx.loudness.input_lra, threshold: ctx.loudness.input_thresh } };
    }
    const step = planMerge(ctx, file.plan, listPath, audio?.path);
    if (ctx.loudness) step.weight = 1 - 0.15;
    const { tail } = await this.runSteps([step]);
    if (ctx.loudness && metrics) {
      const after = parseLoudnorm(tail.join('\n'));
      metrics.loudnessOutput = { integrated: Number(after['output_i']), truePeak: Number(after['output_tp']), range: Number(after['output_lra']), threshold: Number(after['output_thresh']) };
    }
    await this.checkMedia(target.staging, target.location, convertExpectation(ctx, file.plan.timeline.outputSeconds));
    // Quality of the stitched output: the target's measured VMAF, the gate (a split job fails
    // rather than re-encodes: validation refuses on_fail "reencode" with parallelism).
    const quality: QualityResult = {};
    const gate = spec.options.qualityGate;
    const toMeasure = metricsToMeasure(file.search !== undefined, gate);
    if (toMeasure.length) {
      const m = await measureOutput(this.qualityHost(), ctx, target.staging, toMeasure, 0);
      const short = gate ? gateShortfall(gate, m) : undefined;
      if (short) throw belowTarget(short, false);
      if (gate) quality.gate = gateResult(m, true);
      if (file.search) quality.targetVmaf = { ...file.search, ...(m.vmaf ? { measured: m.vmaf } : {}) };
    }
    await this.publish(target);
    const described = await this.describeOutput(target.staging, target.described, target.location, 'media');
    // The chunks have served their purpose.
    await rm(this.dir, { recursive: true, force: true });
    return { outputs: [described], metrics, acceleration: ctx.acceleration, chunking: chunkingOf(file.plan, encodeSeconds, audio?.report.encodeSeconds), ...this.verifiedPart(), ...(Object.keys(quality).length ? { quality } : {}) };
  }

  /** An HLS/DASH ladder: every rendition's chunks copied in order, one audio encode, one muxer. */
  private async mergeLadder(file: SplitPlanFile): Promise<Executed> {
    const { spec, env } = this;
    const s = spec.stream;
    if (!s) throw new JobFailure('INVALID_OUTPUT', ExitCode.invalidSpec, 'is required', 'stream');
    const encodeSeconds = await this.chunkReports(file);
    const audio = await this.audioOf(file);
    const listPath = join(this.dir, concatListFile);
    await writeFile(listPath, concatList(file.plan));
    this.stage('probing');
    const input = await this.planned(file);
    const target = await env.storage.dirOutput(s.path, 'output', env.jobId, await this.scratch());
    this.cleanup.push(target.staging);
    const ctx = await this.context(file, input, target.staging);
    await this.runSteps([planLadderMerge(ctx, file.plan, listPath, audio?.path)]);
    await this.checkLadder(target, s, file.info.durationSeconds);
    const rungs = file.ladder ? await this.honestLadder(target.staging, s, file.ladder) : undefined;
    await this.publish(target);
    const outputs = await this.describeLadder(target, s, streamRenditions(ctx).keep);
    await rm(this.dir, { recursive: true, force: true });
    return { outputs, acceleration: ctx.acceleration, chunking: chunkingOf(file.plan, encodeSeconds, audio?.report.encodeSeconds), ...this.verifiedPart(), ...(rungs ? { quality: { ladder: rungs } } : {}) };
  }
}

async function writeJson(path: string, value: unknown): Promise<void> {
  const part = `${path}.${process.pid}.part`;
  await writeFile(part, JSON.stringify(value));
  await rename(part, path);
}
