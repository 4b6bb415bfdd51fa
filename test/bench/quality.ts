// npm run bench (part): what quality-driven encoding costs, measured on this machine in one run.
//   1. Verification: the checks of an output (decode, streams, length) as a share of its encode.
//      Target: <= 10 %.
//   2. Target VMAF: the CRF search as a share of the final encode (the same encode at the CRF it
//      chose, run beside it), and what measuring the whole output costs. Target: search <= 30 %.
//   3. Per-title ladders: bits of the automatic ladder over the fixed default ladder, on a still
//      slate, moving testsrc2 and noise.
// Every job is the real worker entrypoint. Prints a table; never used as a test assertion.
//
//   node test/bench/quality.ts [--seconds 30] [--height 1080] [--preset medium]
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { normalizeRequest, type MediaJobSpec, type WorkerResult } from '../../crds/src/index.ts';
import { parseMasterPlaylist, parseMediaPlaylist } from '../../worker-image/src/verify.ts';
import { timed, workerEntry } from './timed.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '30' }, height: { type: 'string', default: '1080' }, preset: { type: 'string', default: 'medium' }, 'ladder-seconds': { type: 'string', default: '20' } } });
const seconds = Number(values.seconds);
const height = Number(values.height);
const width = Math.round((height * 16) / 9 / 2) * 2;
const root = mkdtempSync(join(tmpdir(), 'kubeff-bench-quality-'));
const host = (p: string) => join(root, p.replace(/^\/storage\//, ''));


/** One worker run: wall seconds and its result. */
async function worker(spec: MediaJobSpec): Promise<{ seconds: number; result: WorkerResult }> {
  const dir = mkdtempSync(join(root, 'w-'));
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
  const s = await timed(process.execPath, [workerEntry, '--spec', join(dir, 'spec.json'), '--result', join(dir, 'result.json'), '--events', join(dir, 'events.jsonl')], { env: { ...process.env, KUBEFF_STORAGE_ROOT: root } });
  const result = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as WorkerResult;
  if (result.status !== 'completed') throw new Error(`job ${result.status}: ${JSON.stringify(result.error)}`);
  return { seconds: s, result };
}

async function source(name: string, lavfi: string, w: number, h: number, secs: number): Promise<string> {
  const path = `/storage/in/${name}.mp4`;
  await timed('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', lavfi.replace('SIZE', `${w}x${h}`).replace('SECS', String(secs)), '-f', 'lavfi', '-i', `sine=frequency=440:duration=${secs}:sample_rate=48000`,
    '-t', String(secs), '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '8', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', host(path)]);
  return path;
}

/** Average bits per second of every video rendition of a ladder, added up, from its segments. */
function ladderBits(dir: string): number {
  const master = readFileSync(join(dir, 'master.m3u8'), 'utf8');
  let total = 0;
  for (const uri of parseMasterPlaylist(master)) {
    if (uri.startsWith('audio/')) continue;
    const list = parseMediaPlaylist(readFileSync(join(dir, uri), 'utf8'));
    const folder = join(dir, uri.split('/')[0] as string);
    total += (list.segments.reduce((a, s) => a + statSync(join(folder, s.uri)).size, 0) * 8) / list.segments.reduce((a, s) => a + s.seconds, 0);
  }
  return total;
}

async function main(): Promise<void> {
  mkdirSync(host('/storage/in'), { recursive: true });
  console.log(`quality bench: ${seconds} s of testsrc2 ${width}x${height} at 25 fps, libx264 preset ${values.preset}, 2 cores here`);
  const moving = await source('moving', 'testsrc2=size=SIZE:rate=25:duration=SECS', width, height, seconds);
  const convert = (out: string, video: Record<string, unknown>, options: Record<string, unknown> = {}) =>
    normalizeRequest('convert', { input: moving, output: { path: out, video: { codec: 'h264', preset: values.preset, ...video } }, options: { hardware_acceleration: 'none', ...options } });

  // 1. Verification: its own seconds in the result, against the same job's encode.
  const checked = await worker(convert('/storage/out/checked.mp4', { crf: 23 }));
  const unchecked = await worker(convert('/storage/out/unchecked.mp4', { crf: 23 }, { verify: false }));
  const verifySeconds = checked.result.verification?.seconds ?? NaN;

  // 2. Target VMAF: the search's own seconds, and the same encode at the CRF it chose, beside it.
  const target = await worker(convert('/storage/out/target.mp4', { target_vmaf: 93 }));
  const q = target.result.quality?.targetVmaf;
  const fixed = await worker(convert('/storage/out/at-chosen.mp4', { crf: Math.round(q?.crf ?? 23) }, { verify: false }));
  const measureSeconds = target.seconds - (q?.searchSeconds ?? 0) - fixed.seconds - (target.result.verification?.seconds ?? 0);

  console.log('\n| measurement | figure | target |\n|---|---:|---|');
  console.log(`| verification / encode (${checked.result.verification?.checks.join(', ')}) | ${((100 * verifySeconds) / unchecked.seconds).toFixed(1)} % (${verifySeconds.toFixed(2)} s of ${unchecked.seconds.toFixed(2)} s) | <= 10 % |`);
  console.log(`| whole job with / without verification | ${(checked.seconds / unchecked.seconds).toFixed(3)}x | |`);
  console.log(`| target-VMAF search / final encode | ${((100 * (q?.searchSeconds ?? NaN)) / fixed.seconds).toFixed(1)} % (${q?.searchSeconds.toFixed(2)} s of ${fixed.seconds.toFixed(2)} s; ${q?.probes.length} trials of ${q?.samples} × ${q?.sampleSeconds} s) | <= 30 % |`);
  console.log(`| measuring the whole output's VMAF / final encode | ${((100 * measureSeconds) / fixed.seconds).toFixed(1)} % (${measureSeconds.toFixed(2)} s) | (reported, no target) |`);
  console.log(`| target VMAF 93: chosen CRF, predicted, measured (mean, p5) | CRF ${q?.crf}, ${q?.predictedVmaf}, ${q?.measured?.mean} / ${q?.measured?.p5} | ±1.0 |`);

  // 3. Per-title ladders against the fixed default ladder, 720p sources.
  const ls = Number(values['ladder-seconds']);
  const contents = {
    slate: await source('slate', 'testsrc2=size=SIZE:rate=25:duration=1,trim=end_frame=1,loop=loop=-1:size=1:start=0,setpts=N/25/TB', 1280, 720, ls),
    moving: await source('moving720', 'testsrc2=size=SIZE:rate=25:duration=SECS', 1280, 720, ls),
    noisy: await source('noisy', 'testsrc2=size=SIZE:rate=25:duration=SECS,noise=alls=30:allf=t+u', 1280, 720, ls),
  };
  console.log('\n| content (720p) | fixed ladder kb/s | per-title kb/s | per-title / fixed | rungs (name kb/s VMAF) | ladder time s |\n|---|---:|---:|---:|---|---:|');
  for (const [name, input] of Object.entries(contents)) {
    await worker(normalizeRequest('stream', { input, output: `/storage/out/${name}-fixed`, segment_duration: 4 }));
    const auto = await worker(normalizeRequest('stream', { input, output: `/storage/out/${name}-auto`, variants: 'auto', segment_duration: 4 }));
    const f = ladderBits(host(`/storage/out/${name}-fixed`));
    const a = ladderBits(host(`/storage/out/${name}-auto`));
    const rungs = (auto.result.quality?.ladder ?? []).map((r) => `${r.name} ${Math.round((r.averageBitrate ?? r.bitrate) / 1000)} ${r.vmaf}`).join(', ');
    console.log(`| ${name} | ${Math.round(f / 1000)} | ${Math.round(a / 1000)} | ${(a / f).toFixed(2)}x | ${rungs} | ${auto.seconds.toFixed(1)} |`);
  }
}

main().finally(() => rmSync(root, { recursive: true, force: true })).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
