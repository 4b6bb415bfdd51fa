// npm run bench: kubeff against bare FFmpeg, measured side by side in one run on this machine.
// Prints ratios (kubeff time / reference time); lower is better. Never used as a test assertion.
//
//   node test/bench/run.ts [--seconds 10] [--rounds 3]
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { normalizeRequest, type MediaJobSpec } from '../../crds/src/index.ts';
import { capabilities } from '../../worker-image/src/capabilities.ts';
import { planConvert } from '../../worker-image/src/plan/convert.ts';
import { planStream } from '../../worker-image/src/plan/stream.ts';
import { probe } from '../../worker-image/src/probe.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, rounds: { type: 'string', default: '3' }, only: { type: 'string' } } });
// --only convert: just the convert pair (a quicker, many-round look at the worker's own overhead).
const onlyConvert = values.only === 'convert';
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const repo = join(import.meta.dirname, '../..');
const node = process.execPath;
const root = mkdtempSync(join(tmpdir(), 'kubeff-bench-'));
const host = (p: string) => join(root, p.replace(/^\/storage\//, ''));

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    child.on('close', (code) => (code === 0 ? resolve((performance.now() - t0) / 1000) : reject(new Error(`${cmd} exited ${code}: ${err}`))));
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

// The bundle `npm run build` writes (what the runtimes start); the TypeScript entry otherwise.
const workerEntry = existsSync(join(repo, 'worker-image/dist/kubeff-worker.mjs')) ? join(repo, 'worker-image/dist/kubeff-worker.mjs') : join(repo, 'worker-image/src/main.ts');

/** The worker entrypoint on a spec, as the runtimes start it (new Node process, probe, plan, run, describe). */
function worker(spec: MediaJobSpec): Promise<number> {
  const dir = mkdtempSync(join(root, 'w-'));
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
  return run(node, [workerEntry, '--spec', join(dir, 'spec.json'), '--result', join(dir, 'result.json'), '--events', join(dir, 'events.jsonl')], {
    env: { ...process.env, KUBEFF_STORAGE_ROOT: root },
  });
}

interface Row {
  name: string;
  kubeff: number;
  reference: number;
  target: string;
}

async function main(): Promise<void> {
  const src = '/storage/bench/source-1080p.mp4';
  mkdirSync(host('/storage/bench'), { recursive: true });
  process.stderr.write(`making a ${seconds}s 1080p30 H.264 source...\n`);
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=1920x1080:rate=30:duration=${seconds}`, '-f', 'lavfi', '-i', `sine=frequency=440:beep_factor=4:duration=${seconds}:sample_rate=48000`, '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', host(src)]);
  const info = await probe('ffprobe', host(src));
  const caps = await capabilities('ffmpeg');
  const ctxBase = { input: host(src), inputInfo: info, scratch: root, ffmpeg: 'ffmpeg', encoders: caps.encoders, statsPeriod: caps.statsPeriod, acceleration: { decode: 'cpu' as const, encode: 'cpu' as const, reason: 'bench' } };

  // 1. A convert: the worker's whole run against FFmpeg alone with the very same arguments.
  const convertSpec = normalizeRequest('convert', { input: src, output: { path: '/storage/bench/out/convert.mp4', video: { codec: 'h264', preset: 'veryfast', resolution: '720p' } } });
  const convertArgs = planConvert({ ...ctxBase, spec: convertSpec, staging: host('/storage/bench/out/bare-convert.mp4') }).steps[0]?.args ?? [];

  // 2. A 3-rendition HLS ladder.
  const ladder = [
    { resolution: '1080p', bitrate: '5M', name: '1080p' },
    { resolution: '720p', bitrate: '2.5M', name: '720p' },
    { resolution: '480p', bitrate: '1M', name: '480p' },
  ];
  const streamSpec = normalizeRequest('stream', { input: src, output: '/storage/bench/out/hls', type: 'hls', variants: ladder, segment_duration: 6 });
  // The best single command written by hand: one decode, split, one shared audio encode.
  const handDir = host('/storage/bench/out/hand');
  const hand = [
    '-hide_banner', '-nostdin', '-y', '-loglevel', 'error', '-i', host(src),
    '-filter_complex', '[0:v]split=3[a][b][c];[a]scale=1920:1080[v0];[b]scale=1280:720[v1];[c]scale=854:480[v2]',
    '-map', '[v0]', '-map', '[v1]', '-map', '[v2]', '-map', '0:a',
    '-c:v', 'libx264', '-preset', 'veryfast', '-b:v:0', '5M', '-b:v:1', '2.5M', '-b:v:2', '1M',
    '-force_key_frames', 'expr:gte(t,n_forced*6)', '-sc_threshold', '0', '-c:a', 'aac', '-b:a', '128k', '-ac', '2',
    '-f', 'hls', '-hls_time', '6', '-hls_playlist_type', 'vod', '-hls_segment_filename', '%v/seg_%05d.ts',
    '-master_pl_name', 'master.m3u8', '-var_stream_map', 'a:0,agroup:aud v:0,agroup:aud v:1,agroup:aud v:2,agroup:aud', '%v/index.m3u8',
  ];
  // Three separate runs, one per rendition, each decoding the source again.
  const separate = ladder.map((v, i) => {
    const size = ['1920:1080', '1280:720', '854:480'][i] as string;
    return ['-hide_banner', '-nostdin', '-y', '-loglevel', 'error', '-i', host(src), '-vf', `scale=${size}`, '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', v.bitrate,
      '-force_key_frames', 'expr:gte(t,n_forced*6)', '-sc_threshold', '0', '-c:a', 'aac', '-b:a', '128k', '-ac', '2',
      '-f', 'hls', '-hls_time', '6', '-hls_playlist_type', 'vod', '-hls_segment_filename', `${v.name}_%05d.ts`, `${v.name}.m3u8`];
  });
  const sepDir = host('/storage/bench/out/separate');
  const streamStaging = host('/storage/bench/out/bare-hls');
  mkdirSync(streamStaging, { recursive: true });
  const streamArgs = planStream({ ...ctxBase, spec: streamSpec, staging: streamStaging }).steps[0]?.args ?? [];

  const t: Record<string, number[]> = { worker: [], bare: [], ladder: [], hand: [], separate: [], bareLadder: [] };
  for (let r = 0; r < rounds; r++) {
    process.stderr.write(`round ${r + 1}/${rounds}\n`);
    // Interleaved, alternating which goes first, so drift on the machine hits both sides alike.
    if (r % 2 === 0) {
      t.bare?.push(await run('ffmpeg', convertArgs));
      t.worker?.push(await worker(convertSpec));
    } else {
      t.worker?.push(await worker(convertSpec));
      t.bare?.push(await run('ffmpeg', convertArgs));
    }
    if (onlyConvert) continue;
    for (const d of [handDir, sepDir]) {
      rmSync(d, { recursive: true, force: true });
      mkdirSync(d, { recursive: true });
    }
    t.hand?.push(await run('ffmpeg', hand, { cwd: handDir }));
    t.ladder?.push(await worker(streamSpec));
    t.bareLadder?.push(await run('ffmpeg', streamArgs, { cwd: streamStaging }));
    let sum = 0;
    for (const args of separate) sum += await run('ffmpeg', args, { cwd: sepDir });
    t.separate?.push(sum);
  }
  const m = (k: string) => median(t[k] ?? []);
  const rows: Row[] = onlyConvert ? [{ name: 'convert 1080p→720p h264: worker total / bare FFmpeg, same args', kubeff: m('worker'), reference: m('bare'), target: '≤ 1.05' }] : [
    { name: 'convert 1080p→720p h264: worker total / bare FFmpeg, same args', kubeff: m('worker'), reference: m('bare'), target: '≤ 1.05' },
    { name: 'HLS 3-rendition ladder: worker total / best single hand-written command', kubeff: m('ladder'), reference: m('hand'), target: '≤ 1.05' },
    { name: 'HLS 3-rendition ladder: worker total / three separate FFmpeg runs', kubeff: m('ladder'), reference: m('separate'), target: '≤ 0.9' },
    { name: "HLS ladder: the planner's FFmpeg command alone / best hand-written", kubeff: m('bareLadder'), reference: m('hand'), target: '(info)' },
  ];
  const cores = (await import('node:os')).cpus().length;
  console.log(`\nkubeff bench — ${seconds}s 1080p30 H.264 source, ${rounds} rounds (median), ${cores} cores, FFmpeg ${caps.version}, worker ${workerEntry.endsWith('.mjs') ? 'bundle' : 'TypeScript sources'}\n`);
  console.log('| measurement | kubeff s | reference s | ratio | target |');
  console.log('|---|---:|---:|---:|---|');
  for (const row of rows) console.log(`| ${row.name} | ${row.kubeff.toFixed(2)} | ${row.reference.toFixed(2)} | ${(row.kubeff / row.reference).toFixed(3)} | ${row.target} |`);
  rmSync(root, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  rmSync(root, { recursive: true, force: true });
  console.error(err);
  process.exitCode = 1;
});
