// API benchmarks: job submissions per second and p99 latency of POST /convert and GET /jobs/{id}
// (load from a second process), and the delay from an FFmpeg progress line to an SSE client.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../support/ports.ts';

const repo = join(import.meta.dirname, '../..');
const node = process.execPath;
const key = 'bench-client-key-000000000000';

async function server(env: Record<string, string>): Promise<{ url: string; child: ChildProcess; root: string; data: string }> {
  const root = mkdtempSync(join(tmpdir(), 'kubeff-apibench-'));
  const data = mkdtempSync(join(tmpdir(), 'kubeff-apibench-data-'));
  const port = await freePort();
  const child = spawn(node, [join(repo, 'gateway/src/server.ts')], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', KUBEFF_STORAGE_ROOT: root, KUBEFF_DATA_DIR: data, KUBEFF_API_KEYS: key, LOG_LEVEL: 'error', KUBEFF_RATE_LIMIT_PER_SECOND: '1000000', KUBEFF_RATE_LIMIT_PER_HOUR: '100000000', KUBEFF_MAX_QUEUED_JOBS: '1000000', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/api/v1/health`)).ok) return { url, child, root, data };
    } catch {
      // starting
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server did not start');
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

function load(url: string, mode: 'post' | 'get', n: number, c: number, jobId = ''): Promise<{ latencies: number[]; errors: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(node, [join(repo, 'test/bench/load.ts'), url, key, mode, String(n), String(c), jobId], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as never) : reject(new Error(`load exited ${code}`))));
  });
}

async function main(): Promise<void> {
  const rows: string[] = [];
  // 1. The API alone: jobs are accepted and queued, none run (KUBEFF_WORKERS=0).
  const s = await server({ KUBEFF_WORKERS: '0' });
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=1', '-c:v', 'libx264', '-preset', 'ultrafast', join(s.root, 'in.mp4')]);
  try {
    await load(s.url, 'post', 200, 8); // warm-up
    const post = await load(s.url, 'post', 3000, 16);
    const created = (await (await fetch(`${s.url}/api/v1/jobs?per_page=1`, { headers: { 'x-api-key': key } })).json()) as { jobs: { id: string }[] };
    const id = created.jobs[0]?.id ?? '';
    const get = await load(s.url, 'get', 5000, 16, id);
    rows.push(`| POST /api/v1/convert (accept + queue a job) | ${(post.latencies.length / post.seconds).toFixed(0)} req/s | ${pct(post.latencies, 50).toFixed(1)} ms | ${pct(post.latencies, 99).toFixed(1)} ms | ${post.errors} |`);
    rows.push(`| GET /api/v1/jobs/{id} | ${(get.latencies.length / get.seconds).toFixed(0)} req/s | ${pct(get.latencies, 50).toFixed(1)} ms | ${pct(get.latencies, 99).toFixed(1)} ms | ${get.errors} |`);
  } finally {
    s.child.kill('SIGTERM');
    rmSync(s.root, { recursive: true, force: true });
    rmSync(s.data, { recursive: true, force: true });
  }

  // 2. Progress latency: FFmpeg progress line (worker timestamp) -> SSE client receipt.
  const s2 = await server({ KUBEFF_WORKERS: '1' });
  const delays: number[] = [];
  try {
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30:duration=20', '-c:v', 'libx264', '-preset', 'ultrafast', join(s2.root, 'in.mp4')]);
    for (let round = 0; round < 3; round++) {
      const res = await fetch(`${s2.url}/api/v1/convert`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: JSON.stringify({ input: '/storage/in.mp4', output: { path: `/storage/o${round}.mp4`, video: { preset: 'veryfast' } } }) });
      const jid = ((await res.json()) as { job: { id: string } }).job.id;
      const sse = await fetch(`${s2.url}/api/v1/jobs/${jid}/events`, { headers: { 'x-api-key': key } });
      const reader = sse.body?.getReader();
      let buf = '';
      const deadline = Date.now() + 120_000;
      while (reader && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        const now = Date.now();
        buf += new TextDecoder().decode(value);
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (/^event: progress$/m.test(block) && data) {
            const t = (JSON.parse(data) as { time?: string }).time;
            if (t) delays.push(now - Date.parse(t));
          }
        }
        if (/event: (complete|error)/.test(buf)) break;
      }
      await reader?.cancel();
    }
    rows.push(`| FFmpeg progress line → SSE client (${delays.length} events) | — | ${pct(delays, 50).toFixed(1)} ms | ${pct(delays, 99).toFixed(1)} ms | — |`);
  } finally {
    s2.child.kill('SIGTERM');
    rmSync(s2.root, { recursive: true, force: true });
    rmSync(s2.data, { recursive: true, force: true });
  }

  console.log(`\nkubeff API bench — standalone server and load generator as separate processes, ${cpus().length} cores\n`);
  console.log('| measurement | throughput | p50 | p99 | errors |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows) console.log(r);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
