// npm run bench: kubeff against bare FFmpeg, measured side by side in one run on this machine.
// Prints ratios (kubeff time / reference time); lower is better. Never used as a test assertion.
//
//   node test/bench/run.ts [--seconds 10] [--rounds 3]
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { normalizeRequest, type MediaJobSpec } from '../../crds/src/index.ts';
import { capabilities } from '../../worker-image/src/capabilities.ts';
import { planConvert } from '../../worker-image/src/plan/convert.ts';
import { planStream } from '../../worker-image/src/plan/stream.ts';
import { probe } from '../../worker-image/src/probe.ts';
import { freePort } from '../support/ports.ts';
import { summary } from './summary.ts';
import { timed, workerEntry } from './timed.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, rounds: { type: 'string', default: '5' }, only: { type: 'string' }, long: { type: 'string', default: '30' } } });
// --only convert: just the convert pair (a quicker, many-round look at the worker's own overhead).
const onlyConvert = values.only === 'convert';
const seconds = Number(values.seconds);
// The convert pair again on a longer source (0 skips it): the fixed cost per job shrinks with length.
const longSeconds = Number(values.long);
const rounds = Number(values.rounds);
const repo = join(import.meta.dirname, '../..');
const node = process.execPath;
const root = mkdtempSync(join(tmpdir(), 'kubeff-bench-'));
const host = (p: string) => join(root, p.replace(/^\/storage\//, ''));


function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}


/** The worker entrypoint on a spec, as the runtimes start it (new Node process, probe, plan, run, describe). */
function worker(spec: MediaJobSpec): Promise<number> {
  const dir = mkdtempSync(join(root, 'w-'));
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
  return timed(node, [workerEntry, '--spec', join(dir, 'spec.json'), '--result', join(dir, 'result.json'), '--events', join(dir, 'events.jsonl')], {
    env: { ...process.env, KUBEFF_STORAGE_ROOT: root },
  });
}

/**
 * The standalone server, as `npm start` runs it (one job at a time, a spare worker kept warm): a
 * job's time is from POST until its `complete` event arrives over SSE.
 */
async function startServer(): Promise<{ job(body: unknown): Promise<{ seconds: number; ffmpegSeconds: number }>; stop(): void }> {
  const key = 'bench-run-key-0000000000000';
  const port = await freePort();
  // FFmpeg through a wrapper that notes when each run starts and ends: a job's time outside its
  // encode is kubeff's own (the wrapper's few ms count against kubeff, not for it).
  const stamps = join(root, 'ffmpeg-stamps.txt');
  const wrapper = join(root, 'ffmpeg-timed.sh');
  writeFileSync(wrapper, `#!/bin/sh\ns=$(date +%s%N)\nffmpeg "$@"\nrc=$?\ne=$(date +%s%N)\necho "$s $e $*" >> '${stamps}'\nexit $rc\n`, { mode: 0o755 });
  const child = spawn(node, [join(repo, 'gateway/src/server.ts')], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', KUBEFF_STORAGE_ROOT: root, KUBEFF_DATA_DIR: join(root, '.data'), KUBEFF_API_KEYS: key, KUBEFF_WORKERS: '1', LOG_LEVEL: 'warn', KUBEFF_RATE_LIMIT_PER_SECOND: '1000', FFMPEG_PATH: wrapper },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/api/v1/health`)).ok) break;
    } catch {
      // starting
    }
    if (Date.now() > deadline) throw new Error('the server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const headers = { 'x-api-key': key, 'content-type': 'application/json' };
  return {
    async job(body) {
      // Whatever the last job left behind (its spare starting) settles before the clock starts.
      await settled(async () => undefined);
      rmSync(stamps, { force: true });
      const t0 = performance.now();
      const res = await fetch(`${url}/api/v1/convert`, { method: 'POST', headers, body: JSON.stringify(body) });
      if (res.status !== 201) throw new Error(`POST /convert: ${res.status} ${await res.text()}`);
      const id = ((await res.json()) as { job: { id: string } }).job.id;
      const sse = await fetch(`${url}/api/v1/jobs/${id}/events`, { headers });
      const reader = sse.body?.getReader();
      const decoder = new TextDecoder();
      let buf = '';
      const until = Date.now() + 600_000;
      while (reader && Date.now() < until) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        const end = /^event: (complete|error)$/m.exec(buf);
        if (end) {
          const seconds = (performance.now() - t0) / 1000;
          await reader.cancel();
          if (end[1] === 'error') throw new Error(`job ${id} failed: ${buf.slice(end.index, end.index + 500)}`);
          const encode = readFileSync(stamps, 'utf8').split('\n').find((l) => l.includes(' -progress '));
          const [from, to] = (encode ?? '').split(' ').map(Number);
          if (!from || !to) throw new Error(`job ${id}: no timed encode in ${stamps}`);
          return { seconds, ffmpegSeconds: (to - from) / 1e9 };
        }
      }
      throw new Error(`job ${id} did not finish`);
    },
    stop: () => child.kill('SIGTERM'),
  };
}

/** Runs a measurement after the machine settles (a server job's exit starts the next spare worker). */
async function settled<T>(f: () => Promise<T>): Promise<T> {
  await new Promise((r) => setTimeout(r, 500));
  return f();
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
  // Verification (a full decode of the output, issue 11) is measured on its own row: the worker's
  // overhead is what it adds around the same FFmpeg command.
  const convertBody = (input: string) => ({ input, output: { path: '/storage/bench/out/convert.mp4', video: { codec: 'h264', preset: 'veryfast', resolution: '720p' } } });
  const convertSpec = normalizeRequest('convert', { ...convertBody(src), options: { verify: false } });
  const serverBody = (input: string, verify: boolean) => ({ ...convertBody(input), output: { ...convertBody(input).output, path: '/storage/bench/out/server.mp4' }, options: { verify } });
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

  const t: Record<string, number[]> = { server: [], serverOverhead: [], longOverhead: [], worker: [], bare: [], verified: [], ladder: [], hand: [], separate: [], bareLadder: [], longServer: [], longBare: [] };
  const server = await startServer();
  for (let r = 0; r < rounds; r++) {
    process.stderr.write(`round ${r + 1}/${rounds}\n`);
    // Interleaved, alternating which goes first, so drift on the machine hits both sides alike.
    const pair = [async () => t.bare?.push(await settled(() => timed('ffmpeg', convertArgs))), async () => {
      const j = await server.job(serverBody(src, false));
      t.server?.push(j.seconds);
      t.serverOverhead?.push(j.seconds - j.ffmpegSeconds);
    }];
    for (const f of r % 2 === 0 ? pair : pair.reverse()) await f();
    t.worker?.push(await worker(convertSpec));
    t.verified?.push((await server.job(serverBody(src, true))).seconds);
    if (onlyConvert) continue;
    for (const d of [handDir, sepDir]) {
      rmSync(d, { recursive: true, force: true });
      mkdirSync(d, { recursive: true });
    }
    t.hand?.push(await timed('ffmpeg', hand, { cwd: handDir }));
    t.ladder?.push(await worker(streamSpec));
    t.bareLadder?.push(await timed('ffmpeg', streamArgs, { cwd: streamStaging }));
    let sum = 0;
    for (const args of separate) sum += await timed('ffmpeg', args, { cwd: sepDir });
    t.separate?.push(sum);
  }
  if (longSeconds > 0) {
    const longSrc = '/storage/bench/source-long.mp4';
    process.stderr.write(`making a ${longSeconds}s 1080p30 H.264 source...\n`);
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=1920x1080:rate=30:duration=${longSeconds}`, '-f', 'lavfi', '-i', `sine=frequency=440:beep_factor=4:duration=${longSeconds}:sample_rate=48000`, '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', host(longSrc)]);
    const longInfo = await probe('ffprobe', host(longSrc));
    const longSpec = normalizeRequest('convert', { ...convertBody(longSrc), options: { verify: false } });
    const longArgs = planConvert({ ...ctxBase, input: host(longSrc), inputInfo: longInfo, spec: longSpec, staging: host('/storage/bench/out/bare-long.mp4') }).steps[0]?.args ?? [];
    for (let r = 0; r < rounds; r++) {
      process.stderr.write(`long round ${r + 1}/${rounds}\n`);
      const pair = [async () => t.longBare?.push(await settled(() => timed('ffmpeg', longArgs))), async () => {
        const j = await server.job(serverBody(longSrc, false));
        t.longServer?.push(j.seconds);
        t.longOverhead?.push(j.seconds - j.ffmpegSeconds);
      }];
      for (const f of r % 2 === 0 ? pair : pair.reverse()) await f();
    }
  }
  server.stop();
  if (process.env['KUBEFF_BENCH_RAW']) process.stderr.write(`${JSON.stringify(t)}\n`);
  const m = (k: string) => median(t[k] ?? []);
  // Paired rounds: a job and its reference run back to back, so the machine's drift (this VM's
  // speed wanders by ±10 % over a minute) hits both; the overhead is the median of the per-round
  // differences, shown over the reference's median.
  const paired = (k: string, ref: string) => {
    const a = t[k] ?? [];
    const b = t[ref] ?? [];
    return m(ref) + median(a.map((x, i) => x - (b[i] ?? NaN)));
  };
  const convertRows: Row[] = [
    { name: `convert ${seconds} s 1080p→720p h264: job through the standalone server (POST → complete event) / bare FFmpeg, same args (verification off); kubeff = bare + the job's time outside its FFmpeg (median ${(m('serverOverhead') * 1000).toFixed(0)} ms)`, kubeff: m('bare') + m('serverOverhead'), reference: m('bare'), target: '≤ 1.03' },
    { name: `the same, measured directly: job / bare, paired rounds`, kubeff: paired('server', 'bare'), reference: m('bare'), target: '(noisy: ±0.2 s a round here)' },
    ...(longSeconds > 0 ? [{ name: `convert ${longSeconds} s through the server / bare FFmpeg; outside FFmpeg ${(m('longOverhead') * 1000).toFixed(0)} ms`, kubeff: m('longBare') + m('longOverhead'), reference: m('longBare'), target: '(info)' }] : []),
    { name: `convert ${seconds} s: a freshly started worker process (as a cluster pod runs it) / bare FFmpeg, paired`, kubeff: paired('worker', 'bare'), reference: m('bare'), target: '(info)' },
    { name: `convert ${seconds} s through the server with verification on (the default) / bare FFmpeg, paired`, kubeff: paired('verified', 'bare'), reference: m('bare'), target: '(info: one full decode)' },
  ];
  const ratio = (r: Row | undefined) => (r ? r.kubeff / r.reference : NaN);
  summary({ workerRatio: ratio(convertRows[0]), workerRatioDirect: ratio(convertRows[1]), workerOverheadMs: m('serverOverhead') * 1000, ...(longSeconds > 0 ? { workerRatioLong: ratio(convertRows[2]) } : {}), coldWorkerRatio: ratio(convertRows.at(-2)), verifiedRatio: ratio(convertRows.at(-1)) });
  const rows: Row[] = onlyConvert ? convertRows : [
    ...convertRows,
    { name: 'HLS 3-rendition ladder: worker total / best single hand-written command', kubeff: m('ladder'), reference: m('hand'), target: '≤ 1.05' },
    { name: 'HLS 3-rendition ladder: worker total / three separate FFmpeg runs', kubeff: m('ladder'), reference: m('separate'), target: '≤ 0.9' },
    { name: "HLS ladder: the planner's FFmpeg command alone / best hand-written", kubeff: m('bareLadder'), reference: m('hand'), target: '(info)' },
  ];
  const cores = (await import('node:os')).cpus().length;
  console.log(`\nkubeff bench — ${seconds}s 1080p30 H.264 source, ${rounds} rounds (median), ${cores} cores, FFmpeg ${caps.version}, worker ${workerEntry.endsWith('.mjs') ? 'bundle' : 'TypeScript sources'}\n`);
  console.log('Convert rows: "paired" = the reference\'s median + the median per-round difference (a job and its reference back to back, so drift cancels).\n');
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
