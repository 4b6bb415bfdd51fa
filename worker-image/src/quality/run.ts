// The I/O of quality-driven encoding, around the pure decisions in ./search.ts and ./ladder.ts
// and the planners in ../plan/quality.ts: the CRF search of a target-VMAF encode, the
// measurement of a finished output (target VMAF, quality gate), and the samples of a per-title
// ladder. A job run (JobRun) lends it its step runner, scratch folder and log.
import { copyFile, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { GateResult, LadderRung, OutputSpec, PerTitleLadder, QualityGate, StreamSpec, TargetVmafResult, VmafScore } from '@kubeff/crds';
import { ExitCode } from '../exit-codes.ts';
import { JobFailure } from '../failure.ts';
import { parseStatsFile, parseVmafLog, round } from '../metrics.ts';
import { VmafModelFiles } from '../plan/analyze.ts';
import { concatListOf } from '../plan/split.ts';
import { planLadderPoints, planMeasureOutput, planReferenceSample, planSampleEncode, planSourceSample, planVmafMany, QualityFiles, withQuality, type QualityMetric, type Samples, type VmafTool } from '../plan/quality.ts';
import { candidateSizes, chooseRungs, sampleCrfs, type SamplePoint } from './ladder.ts';
import { parseMasterPlaylist, parseMediaPlaylist } from '../verify.ts';
import type { FfmpegStep, PlanContext } from '../plan/types.ts';
import { chooseCrf, crfScale, MaxMeasuredFrames, nextCrf, samplePlan, vmafSummary, type Probe, type SearchCodec } from './search.ts';

/** What a quality step needs of the run it belongs to. */
export interface QualityHost {
  runSteps(steps: FfmpegStep[]): Promise<{ tail: string[] }>;
  scratch(): Promise<string>;
  log(line: string): void;
  checkAborted(): void;
  /** The libvmaf-capable FFmpeg and its option style. */
  vmafTool(): Promise<VmafTool>;
  /** Where the VMAF model files are. */
  modelDir: string;
}

/** A working folder holding the VMAF model under the names the filters use. */
async function workFolder(host: QualityHost, style: VmafTool['style'], prefix: string): Promise<string> {
  const dir = await mkdtemp(join(await host.scratch(), prefix));
  if (style === 'model') await copyFile(join(host.modelDir, VmafModelFiles.model), join(dir, VmafModelFiles.model));
  else {
    await copyFile(join(host.modelDir, 'vmaf_float_v0.6.1.pkl'), join(dir, VmafModelFiles.model_path));
    await copyFile(join(host.modelDir, 'vmaf_float_v0.6.1.pkl.model'), join(dir, `${VmafModelFiles.model_path}.model`));
  }
  return dir;
}

async function vmafOfLog(path: string): Promise<{ frames: number[]; score: VmafScore }> {
  const log = parseVmafLog(await readFile(path, 'utf8'));
  if (!log.frames.length && log.mean === undefined) throw new JobFailure('PROCESSING_FAILED', ExitCode.transient, 'VMAF wrote no scores');
  return { frames: log.frames, score: vmafSummary(log.frames, log.mean) };
}

/**
 * Lossless references of samples spread over the output, joined into one file: what the encoder
 * is given there (a convert's chain; a ladder's source). Encoding and measuring one file per
 * trial costs one process each.
 */
export async function referenceSamples(host: QualityHost, ctx: PlanContext, dir: string, outputSeconds: number, wanted: number): Promise<Samples & { count: number; seconds: number }> {
  const { starts, seconds } = samplePlan(outputSeconds, wanted);
  const parts = starts.map((_, i) => join(dir, `sample-${i}.nut`));
  const sample = ctx.spec.type === 'stream' ? planSourceSample : planReferenceSample;
  await host.runSteps(starts.map((s, i) => sample(ctx, s, seconds, parts[i] as string)));
  const list = join(dir, 'samples.ffconcat');
  await writeFile(list, concatListOf(parts.map((p) => p.slice(dir.length + 1))));
  return { list, fps: ctx.inputInfo.video?.fps || 25, count: starts.length, seconds };
}

/** Trials of the search: the samples at each CRF (side by side when several), their bitrate and VMAF. */
async function trials(host: QualityHost, ctx: PlanContext, tool: VmafTool, dir: string, ref: Samples & { count: number; seconds: number }, crfs: readonly number[], first: number): Promise<Probe[]> {
  const files = crfs.map((_, i) => join(dir, `probe-${first + i}.nut`));
  const logs = crfs.map((_, i) => `probe-${first + i}.json`);
  const total = ref.count * ref.seconds;
  const shown = crfs.map((c) => `CRF ${c}`).join(' and ');
  await host.runSteps([planSampleEncode(ctx, ref, crfs.map((crf) => ({ crf })), files, total, `searching quality: ${shown}`)]);
  // Every other frame: the samples' mean barely moves, the cost halves.
  await host.runSteps([planVmafMany(tool, files, ref, logs, undefined, { cwd: dir, seconds: total, subsample: 2, label: `searching quality: VMAF of ${shown}`, statsPeriod: ctx.statsPeriod })]);
  const out: Probe[] = [];
  for (let i = 0; i < crfs.length; i++) {
    const { score } = await vmafOfLog(join(dir, logs[i] as string));
    const bitrate = Math.round(((await stat(files[i] as string)).size * 8) / total);
    host.log(`target VMAF search: CRF ${crfs[i]} gives VMAF ${score.mean.toFixed(2)} at ${Math.round(bitrate / 1000)} kb/s on the samples`);
    out.push({ crf: crfs[i] as number, vmaf: score.mean, bitrate });
  }
  return out;
}

/**
 * The CRF search of a target-VMAF encode on samples of the input (../quality/search.ts decides),
 * with the job's encoder, preset and cap. Returns the CRF to encode with and the search's account.
 */
export async function searchCrf(host: QualityHost, ctx: PlanContext, outputSeconds: number): Promise<Omit<TargetVmafResult, 'measured'>> {
  const began = performance.now();
  const out = ctx.spec.output as OutputSpec;
  const v = out.video ?? {};
  const target = v.targetVmaf as number;
  const tool = await host.vmafTool();
  const dir = await workFolder(host, tool.style, 'search-');
  const ref = await referenceSamples(host, ctx, dir, outputSeconds, v.vmafSamples ?? 4);
  const codec = (v.codec ?? 'h264') as SearchCodec;
  const encoder = ctx.acceleration.encode === 'nvenc' ? `${codec}_nvenc` : codec === 'av1' ? (ctx.encoders.has('libsvtav1') ? 'libsvtav1' : 'libaom-av1') : codec;
  const scale = crfScale(codec, encoder);
  const probes: Probe[] = [];
  for (let crf = nextCrf(probes, target, scale); crf !== undefined; crf = nextCrf(probes, target, scale)) {
    host.checkAborted();
    probes.push(...(await trials(host, ctx, tool, dir, ref, [crf], probes.length)));
  }
  const chosen = chooseCrf(probes, target, scale);
  host.log(`target VMAF ${target}: CRF ${chosen.crf} (predicted VMAF ${chosen.predictedVmaf.toFixed(2)}) after ${probes.length} trial encodes of ${ref.count} × ${ref.seconds} s`);
  return {
    target, crf: chosen.crf, predictedVmaf: chosen.predictedVmaf,
    probes: probes.map((p) => ({ crf: p.crf, vmaf: round(p.vmaf, 3), ...(p.bitrate !== undefined ? { bitrate: p.bitrate } : {}) })),
    samples: ref.count, sampleSeconds: ref.seconds, searchSeconds: round((performance.now() - began) / 1000, 3),
  };
}

export interface Measured {
  vmaf?: VmafScore | undefined;
  psnr?: number | undefined;
  ssim?: number | undefined;
  /** VMAF was computed on every n-th frame (long outputs). */
  every: number;
}


/** The metrics of a finished (staged) output against the input through the job's chain. */
export async function measureOutput(host: QualityHost, ctx: PlanContext, output: string, metrics: readonly QualityMetric[], weight: number): Promise<Measured> {
  const tool = await host.vmafTool();
  const dir = await workFolder(host, tool.style, 'measure-');
  const frames = ctx.inputInfo.durationSeconds * (ctx.inputInfo.video?.fps || 25);
  const every = Math.max(1, Math.ceil(frames / MaxMeasuredFrames));
  // PSNR and SSIM need no libvmaf, but one decode of both sides serves them all.
  await host.runSteps([planMeasureOutput(ctx, tool, output, metrics, { cwd: dir, subsample: every, weight })]);
  const m: Measured = { every };
  if (metrics.includes('vmaf')) m.vmaf = (await vmafOfLog(join(dir, QualityFiles.vmaf))).score;
  const mean = (xs: number[]) => (xs.length ? round(xs.reduce((a, b) => a + b, 0) / xs.length, 4) : undefined);
  if (metrics.includes('psnr')) m.psnr = mean(parseStatsFile(await readFile(join(dir, QualityFiles.psnr), 'utf8'), 'psnr_avg').filter((x) => Number.isFinite(x)));
  if (metrics.includes('ssim')) m.ssim = mean(parseStatsFile(await readFile(join(dir, QualityFiles.ssim), 'utf8'), 'All'));
  return m;
}

/** The metrics a job's quality features need measured. */
export function metricsToMeasure(targetVmaf: boolean, gate: QualityGate | undefined): QualityMetric[] {
  const out: QualityMetric[] = [];
  if (targetVmaf || gate?.vmafMin !== undefined) out.push('vmaf');
  if (gate?.psnrMin !== undefined) out.push('psnr');
  if (gate?.ssimMin !== undefined) out.push('ssim');
  return out;
}

/** Pure: the first threshold of a gate a measurement misses, if any. */
export function gateShortfall(gate: QualityGate, m: Measured): { metric: QualityMetric; measured: number; required: number } | undefined {
  const checks: [QualityMetric, number | undefined, number | undefined][] = [
    ['vmaf', gate.vmafMin, m.vmaf?.mean],
    ['psnr', gate.psnrMin, m.psnr],
    ['ssim', gate.ssimMin, m.ssim],
  ];
  for (const [metric, required, measured] of checks) {
    if (required !== undefined && (measured === undefined || measured < required)) return { metric, measured: measured ?? NaN, required };
  }
  return undefined;
}

/** Pure: the gate's part of the result. */
export function gateResult(m: Measured, passed: boolean, reencoded?: GateResult['reencoded']): GateResult {
  return {
    passed,
    ...(m.vmaf ? { vmaf: m.vmaf.mean } : {}),
    ...(m.psnr !== undefined ? { psnr: m.psnr } : {}),
    ...(m.ssim !== undefined ? { ssim: m.ssim } : {}),
    ...(reencoded ? { reencoded } : {}),
  };
}

/** The failure of a gate, naming what was measured and what was required. */
export function belowTarget(short: { metric: QualityMetric; measured: number; required: number }, reencoded: boolean): JobFailure {
  const shown = Number.isFinite(short.measured) ? short.measured.toFixed(short.metric === 'ssim' ? 4 : 2) : 'nothing';
  return new JobFailure(
    'QUALITY_BELOW_TARGET', ExitCode.outputRejected,
    `the output measures ${short.metric.toUpperCase()} ${shown}, below the required ${short.required}${reencoded ? ' (also after one re-encode at a better setting)' : ''}`,
    `options.quality_gate.${short.metric}_min`,
    { metric: short.metric, measured: Number.isFinite(short.measured) ? short.measured : undefined, required: short.required },
  );
}

/**
 * Pure: the better setting a gate's one re-encode uses: six CRF steps better (about twice the
 * bits), or half again the bitrate.
 */
export function betterSetting(ctx: PlanContext, used: { crf?: number | undefined; bitrate?: number | undefined }): { crf?: number; bitrate?: number } {
  if (used.bitrate !== undefined) return { bitrate: Math.round(used.bitrate * 1.5) };
  const out = ctx.spec.output as OutputSpec;
  const codec = (out.video?.codec ?? 'h264') as SearchCodec;
  const encoder = ctx.acceleration.encode === 'nvenc' ? `${codec}_nvenc` : codec === 'av1' ? (ctx.encoders.has('libsvtav1') ? 'libsvtav1' : 'libaom-av1') : codec;
  const scale = crfScale(codec, encoder);
  const crf = used.crf ?? defaultCrf(codec, encoder);
  return { crf: Math.max(0, crf - 6, scale.min - 8) };
}

/** The CRF an encoder gets when the job names none (encoders.ts). */
export function defaultCrf(codec: SearchCodec, encoder: string): number {
  if (encoder.endsWith('_nvenc')) return 23;
  if (codec === 'h264') return 23;
  if (codec === 'h265') return 28;
  if (codec === 'vp9') return 32;
  return encoder === 'libsvtav1' ? 35 : 30;
}

export { withQuality };

/** The job's context aiming at a VMAF (for a search), whatever quality setting it had. */
export function withTarget(ctx: PlanContext, target: number): PlanContext {
  const q = withQuality(ctx, {});
  const out = q.spec.output as OutputSpec;
  return { ...q, spec: { ...q.spec, output: { ...out, video: { ...out.video, targetVmaf: target } } } };
}

/**
 * A per-title ladder: samples of the input encoded at every candidate size and a few CRFs, each
 * measured against the source at the top size (upscaled as a player shows it); the rungs are
 * chosen from those points (ladder.ts).
 */
export async function perTitleLadder(host: QualityHost, ctx: PlanContext, pt: PerTitleLadder): Promise<{ rungs: LadderRung[]; points: number; seconds: number }> {
  const began = performance.now();
  const video = ctx.inputInfo.video;
  if (!video) throw new JobFailure('INVALID_INPUT', ExitCode.invalidInput, 'has no video stream to build a ladder from', 'input');
  const s = ctx.spec.stream as StreamSpec;
  const tool = await host.vmafTool();
  const dir = await workFolder(host, tool.style, 'ladder-');
  const ref = await referenceSamples(host, ctx, dir, ctx.inputInfo.durationSeconds, 4);
  const total = ref.count * ref.seconds;
  const top = { width: video.width, height: video.height };
  const points: SamplePoint[] = [];
  for (const size of candidateSizes(top)) {
    host.checkAborted();
    const crfs = sampleCrfs(s.videoCodec, size.height === top.height);
    const files = crfs.map((c) => join(dir, `p-${size.height}-${c}.nut`));
    await host.runSteps([planLadderPoints(ctx, ref, size, crfs, files, total)]);
    const logs = crfs.map((c) => `p-${size.height}-${c}.json`);
    await host.runSteps([planVmafMany(tool, files, ref, logs, top, { cwd: dir, seconds: total, label: `measuring the ladder at ${size.width}x${size.height}`, statsPeriod: ctx.statsPeriod })]);
    for (let i = 0; i < crfs.length; i++) {
      const { score } = await vmafOfLog(join(dir, logs[i] as string));
      const bitrate = Math.round(((await stat(files[i] as string)).size * 8) / total);
      points.push({ size, crf: crfs[i] as number, bitrate, vmaf: score.mean });
    }
  }
  host.log(`per-title ladder samples (size, CRF, kb/s, VMAF): ${points.map((p) => `${p.size.height}p/${p.crf}/${Math.round(p.bitrate / 1000)}/${p.vmaf.toFixed(1)}`).join(' ')}`);
  const rungs = chooseRungs(points, pt, s.videoCodec);
  host.log(`per-title ladder from ${points.length} sampled points: ${rungs.map((r) => `${r.name} ${Math.round(r.bitrate / 1000)} kb/s (VMAF ${r.vmaf})`).join(', ')}`);
  return {
    rungs: rungs.map((r) => ({ name: r.name, width: r.size.width, height: r.size.height, bitrate: r.bitrate, crf: r.crf, vmaf: r.vmaf })),
    points: points.length,
    seconds: round((performance.now() - began) / 1000, 3),
  };
}

/**
 * Pure: a segment list's peak and average bits per second, from the segments' sizes and
 * durations. A segment under half the longest one (the short last one) is left out of the peak:
 * its container overhead alone would make it look dear.
 */
export function segmentRates(segments: readonly { bytes: number; seconds: number }[]): { peak: number; average: number } {
  const longest = Math.max(0, ...segments.map((s) => s.seconds));
  let peak = 0;
  let bytes = 0;
  let seconds = 0;
  for (const s of segments) {
    if (s.seconds > 0 && (s.seconds >= longest / 2 || segments.length === 1)) peak = Math.max(peak, (s.bytes * 8) / s.seconds);
    bytes += s.bytes;
    seconds += s.seconds;
  }
  return { peak: Math.round(peak), average: seconds > 0 ? Math.round((bytes * 8) / seconds) : 0 };
}

/** Pure: a master playlist with each variant's BANDWIDTH and AVERAGE-BANDWIDTH replaced. */
export function withBandwidths(master: string, rates: ReadonlyMap<string, { peak: number; average: number }>): string {
  const lines = master.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (!line.startsWith('#EXT-X-STREAM-INF:')) continue;
    const uri = lines[i + 1]?.trim();
    const r = uri ? rates.get(uri) : undefined;
    if (!r) continue;
    let attrs = line.slice('#EXT-X-STREAM-INF:'.length).replace(/(^|,)AVERAGE-BANDWIDTH=\d+/, '');
    attrs = attrs.replace(/(^|,)BANDWIDTH=\d+/, `$1BANDWIDTH=${r.peak},AVERAGE-BANDWIDTH=${r.average}`);
    lines[i] = `#EXT-X-STREAM-INF:${attrs}`;
  }
  return lines.join('\n');
}

/**
 * Honest bandwidths in an HLS master playlist: measured from the segments written (the video
 * rendition's plus its audio group's), not the encoder's target. Returns each rendition's rates.
 */
export async function rewriteBandwidths(dir: string, master: string): Promise<Map<string, { peak: number; average: number }>> {
  const masterPath = join(dir, master);
  const text = await readFile(masterPath, 'utf8');
  const ratesOf = async (uri: string) => {
    const list = parseMediaPlaylist(await readFile(join(dir, uri), 'utf8'));
    const base = uri.includes('/') ? uri.slice(0, uri.lastIndexOf('/') + 1) : '';
    return segmentRates(await Promise.all(list.segments.map(async (s) => ({ bytes: (await stat(join(dir, base + s.uri))).size, seconds: s.seconds }))));
  };
  const audioUri = /#EXT-X-MEDIA:TYPE=AUDIO.*\bURI="([^"]+)"/.exec(text)?.[1];
  const audio = audioUri ? await ratesOf(audioUri) : { peak: 0, average: 0 };
  const rates = new Map<string, { peak: number; average: number }>();
  for (const uri of parseMasterPlaylist(text)) {
    // The audio group alone is a variant too (audio-only clients).
    if (uri === audioUri) rates.set(uri, audio);
    else {
      const v = await ratesOf(uri);
      rates.set(uri, { peak: v.peak + audio.peak, average: v.average + audio.average });
    }
  }
  await writeFile(masterPath, withBandwidths(text, rates));
  return rates;
}

/** The job's spec with its per-title ladder chosen: a ladder like any other from here on. */
export function withLadder<T extends { stream?: StreamSpec | undefined }>(spec: T, rungs: readonly LadderRung[]): T {
  const st = spec.stream as StreamSpec;
  return { ...spec, stream: { ...st, variants: rungs.map((r) => ({ name: r.name, width: r.width, height: r.height, bitrate: r.bitrate, ...(r.crf !== undefined ? { crf: r.crf } : {}) })) } };
}
