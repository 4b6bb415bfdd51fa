// npm run bench (part): split-and-stitch measured side by side in one run on this machine.
//   1. Parallel efficiency: one FFmpeg whose encoder has one thread, against the same encode
//      split over 2 worker processes with one encoder thread each (what N one-core nodes see).
//      Target: speed-up >= 1.85x.
//   2. Today's single run against parallelism 2, both at default threads, with size and VMAF.
// Every split stage is the real worker entrypoint (plan, chunks two at a time, merge). Prints a
// table; never used as a test assertion.
//
//   node test/bench/split.ts [--seconds 20] [--height 720] [--preset medium]
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { normalizeRequest, type MediaJobSpec, type WorkerResult } from '../../crds/src/index.ts';
import { capabilities } from '../../worker-image/src/capabilities.ts';
import { planConvert, threadArgs } from '../../worker-image/src/plan/convert.ts';
import { probe } from '../../worker-image/src/probe.ts';
import { toolsFromEnv } from '../../worker-image/src/tools.ts';
import { timed, workerEntry } from './timed.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '20' }, height: { type: 'string', default: '720' }, preset: { type: 'string', default: 'medium' } } });
const seconds = Number(values.seconds);
const height = Number(values.height);
const width = Math.round((height * 16) / 9 / 2) * 2;
const root = mkdtempSync(join(tmpdir(), 'kubeff-bench-split-'));
const host = (p: string) => join(root, p.replace(/^\/storage\//, ''));


/** One worker process, optionally one stage of a split job. */
async function worker(spec: MediaJobSpec, jobId: string, stage: string[], threads: number | undefined): Promise<WorkerResult> {
  const dir = mkdtempSync(join(root, 'w-'));
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
  const env = { ...process.env, KUBEFF_STORAGE_ROOT: root, ...(threads ? { KUBEFF_ENCODER_THREADS: String(threads) } : {}) };
  await timed(process.execPath, [workerEntry, '--spec', join(dir, 'spec.json'), '--result', join(dir, 'result.json'), '--events', join(dir, 'events.jsonl'), '--job-id', jobId, ...stage], { env });
  return JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as WorkerResult;
}

/**
 * A split job as a runtime runs it: plan, chunks `lanes` at a time with the audio beside them,
 * merge. Wall seconds and the merge's result. With `alone`, the audio runs after the chunks
 * instead, each stage timed on its own: what separate nodes (one per chunk, one for the audio)
 * would see is then plan + max(chunks, audio) + merge, which this 2-core machine cannot run at once.
 */
async function split(spec: MediaJobSpec, lanes: number, threads: number | undefined, alone = false): Promise<{ seconds: number; result: WorkerResult; stages: Record<string, number> }> {
  const jobId = `bench${Math.random().toString(36).slice(2, 10)}`;
  const t0 = performance.now();
  const plan = await worker(spec, jobId, ['--stage', 'plan', '--capacity', String(lanes)], threads);
  const t1 = performance.now();
  const count = plan.chunking?.count ?? 1;
  const queue = [...Array(count).keys()];
  const audio = () => (plan.chunking?.audio ? worker(spec, jobId, ['--stage', 'audio'], threads) : Promise.resolve());
  const chunks = Array.from({ length: lanes }, async () => {
    for (let i = queue.shift(); i !== undefined; i = queue.shift()) await worker(spec, jobId, ['--stage', 'chunk', '--chunk-index', String(i)], threads);
  });
  // The audio runs beside the chunks, as both runtimes run it.
  await Promise.all(alone ? chunks : [audio(), ...chunks]);
  const t2 = performance.now();
  if (alone) await audio();
  const ta = performance.now();
  const result = await worker(spec, jobId, ['--stage', 'merge'], threads);
  const t3 = performance.now();
  const stages = { plan: (t1 - t0) / 1000, chunks: (t2 - t1) / 1000, audio: (ta - t2) / 1000, merge: (t3 - ta) / 1000 };
  const seconds = alone ? stages.plan + Math.max(stages.chunks, stages.audio) + stages.merge : (t3 - t0) / 1000;
  return { seconds, result, stages };
}

async function vmaf(distorted: string, reference: string): Promise<number> {
  const spec = normalizeRequest('analyze', { input: distorted, reference, metrics: ['vmaf'] });
  const r = await worker(spec, `vmaf${Math.random().toString(36).slice(2, 8)}`, [], undefined);
  return r.metrics?.vmaf?.mean ?? NaN;
}

async function main(): Promise<void> {
  mkdirSync(host('/storage/in'), { recursive: true });
  const src = '/storage/in/source.mp4';
  console.log(`split bench: ${seconds} s of testsrc2 ${width}x${height} at 25 fps, libx264 preset ${values.preset}, 2 cores here`);
  await timed('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=25:duration=${seconds}`, '-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}:sample_rate=48000`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', host(src)]);
  const spec = (out: string, parallelism?: number) => normalizeRequest('convert', { input: src, output: { path: out, format: 'mp4', video: { codec: 'h264', preset: values.preset } }, options: { hardware_acceleration: 'none', ...(parallelism ? { parallelism } : {}) } });

  // 1. Bare FFmpeg, one encoder thread, the worker's own single-run arguments.
  const tools = toolsFromEnv();
  const caps = await capabilities(tools.ffmpeg);
  const info = await probe(tools.ffprobe, host(src));
  const bareSpec = spec('/storage/out/bare-1t.mp4');
  const ctx = { spec: bareSpec, input: host(src), inputInfo: info, scratch: root, staging: host('/storage/out/bare-1t.mp4'), ffmpeg: tools.ffmpeg, encoders: caps.encoders, statsPeriod: caps.statsPeriod, acceleration: { decode: 'cpu' as const, encode: 'cpu' as const, reason: 'bench' }, encoderThreads: 1 };
  mkdirSync(host('/storage/out'), { recursive: true });
  const args = planConvert(ctx).steps[0]?.args ?? [];
  if (!threadArgs(ctx).length) throw new Error('no -threads argument');
  const bare1 = await timed(tools.ffmpeg, args);
  const split1 = await split(spec('/storage/out/split-1t.mp4', 2), 2, 1);
  const nodes1 = await split(spec('/storage/out/split-nodes.mp4', 2), 2, 1, true);

  // 2. Defaults: one worker run against parallelism 2.
  const t0 = performance.now();
  const single = await worker(spec('/storage/out/single.mp4'), 'single', [], undefined);
  const singleSeconds = (performance.now() - t0) / 1000;
  const split2 = await split(spec('/storage/out/split.mp4', 2), 2, undefined);
  const size = (p: string) => statSync(host(p)).size;
  const [vSingle, vSplit] = [await vmaf('/storage/out/single.mp4', src), await vmaf('/storage/out/split.mp4', src)];

  const rows = [
    ['1 encoder thread: bare FFmpeg / split over 2 workers (audio beside them, this machine)', bare1, split1.seconds, bare1 / split1.seconds, '>= 1.85x'],
    ['1 encoder thread: bare FFmpeg / split as on separate nodes (plan + max(chunks, audio) + merge)', bare1, nodes1.seconds, bare1 / nodes1.seconds, '>= 1.85x'],
    ['default threads: single worker run / parallelism 2', singleSeconds, split2.seconds, singleSeconds / split2.seconds, '(2 cores: ~1x)'],
  ] as const;
  console.log('\n| measurement | reference s | split s | speed-up | target |\n|---|---:|---:|---:|---|');
  for (const [name, a, b, r, t] of rows) console.log(`| ${name} | ${a.toFixed(2)} | ${b.toFixed(2)} | ${r.toFixed(3)}x | ${t} |`);
  console.log(`\nsplit stages, 1 thread: plan ${split1.stages['plan']?.toFixed(2)} s, chunks and audio ${split1.stages['chunks']?.toFixed(2)} s, merge ${split1.stages['merge']?.toFixed(2)} s; chunk encode s ${JSON.stringify(split1.result.chunking?.encodeSeconds)}, audio ${split1.result.chunking?.audioEncodeSeconds} s`);
  console.log(`split stages, 1 thread, each alone: plan ${nodes1.stages['plan']?.toFixed(2)} s, chunks ${nodes1.stages['chunks']?.toFixed(2)} s, audio ${nodes1.stages['audio']?.toFixed(2)} s, merge ${nodes1.stages['merge']?.toFixed(2)} s`);
  console.log(`split stages, defaults: plan ${split2.stages['plan']?.toFixed(2)} s, chunks ${split2.stages['chunks']?.toFixed(2)} s, merge ${split2.stages['merge']?.toFixed(2)} s`);
  console.log(`size: single ${size('/storage/out/single.mp4')} B, split ${size('/storage/out/split.mp4')} B (${((size('/storage/out/split.mp4') / size('/storage/out/single.mp4') - 1) * 100).toFixed(2)} %)`);
  console.log(`VMAF: single ${vSingle.toFixed(3)}, split ${vSplit.toFixed(3)} (single run reported ${single.outputs[0]?.durationSeconds} s, split ${split2.result.outputs[0]?.durationSeconds} s)`);
}

main().finally(() => rmSync(root, { recursive: true, force: true })).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
