// API benchmarks: job submissions per second and p99 latency of POST /convert and GET /jobs/{id}
// (load from a second process), and the delay from an FFmpeg progress line to an SSE client.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinaries, startControlPlane } from '../cluster/control-plane.ts';
import { startNats } from '../support/nats.ts';
import { freePort } from '../support/ports.ts';
import { summary } from './summary.ts';
import { ensureWrk, wrk, type LoadResult } from './wrk.ts';

const repo = join(import.meta.dirname, '../..');
const node = process.execPath;
const key = 'bench-client-key-000000000000';

async function server(env: Record<string, string>): Promise<{ url: string; child: ChildProcess; root: string; data: string }> {
  const root = mkdtempSync(join(tmpdir(), 'kubeff-apibench-'));
  const data = mkdtempSync(join(tmpdir(), 'kubeff-apibench-data-'));
  const port = await freePort();
  // LOG_LEVEL info: the access log a production server writes is part of what is measured.
  const child = spawn(node, [join(repo, 'gateway/src/server.ts')], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', KUBEFF_STORAGE_ROOT: root, KUBEFF_DATA_DIR: data, KUBEFF_API_KEYS: key, LOG_LEVEL: 'info', KUBEFF_RATE_LIMIT_PER_SECOND: '1000000', KUBEFF_RATE_LIMIT_PER_HOUR: '100000000', KUBEFF_MAX_QUEUED_JOBS: '1000000', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await untilHealthy(url, child);
  return { url, child, root, data };
}

async function untilHealthy(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      if ((await fetch(`${url}/api/v1/health`)).ok) return;
    } catch {
      // starting
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`server at ${url} did not start`);
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

/** The Node (fetch) load generator: used when wrk cannot be had; it saturates a core before the server does. */
function nodeLoad(url: string, mode: 'post' | 'get', n: number, c: number, jobId = ''): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(node, [join(repo, 'test/bench/load.ts'), url, key, mode, String(n), String(c), jobId], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`load exited ${code}`));
      const r = JSON.parse(out) as { latencies: number[]; errors: number; seconds: number };
      resolve({ requestsPerSecond: r.latencies.length / r.seconds, p50Ms: pct(r.latencies, 50), p99Ms: pct(r.latencies, 99), requests: r.latencies.length, errors: r.errors });
    });
  });
}

const submission = JSON.stringify({ input: '/storage/in.mp4', output: 'mkv' });
const haveWrk = ensureWrk();
const generator = haveWrk ? 'wrk, 1 thread, 16 connections, 10 s' : 'Node fetch, 16 lanes (wrk not found: the generator is the limit)';

function post(url: string): Promise<LoadResult> {
  return haveWrk ? wrk(`${url}/api/v1/convert`, { key, method: 'POST', body: submission, seconds: 10, connections: 16 }) : nodeLoad(url, 'post', 3000, 16);
}
function get(url: string, id: string): Promise<LoadResult> {
  return haveWrk ? wrk(`${url}/api/v1/jobs/${id}`, { key, seconds: 10, connections: 16 }) : nodeLoad(url, 'get', 5000, 16, id);
}
function warm(url: string): Promise<LoadResult> {
  return haveWrk ? wrk(`${url}/api/v1/convert`, { key, method: 'POST', body: submission, seconds: 2, connections: 16 }) : nodeLoad(url, 'post', 200, 8);
}

const row = (what: string, r: LoadResult, target: string) =>
  `| ${what} | ${r.requestsPerSecond.toFixed(0)} req/s | ${r.p50Ms.toFixed(1)} ms | ${r.p99Ms.toFixed(1)} ms | ${r.errors} | ${target} |`;

async function newestJob(url: string): Promise<string> {
  const created = (await (await fetch(`${url}/api/v1/jobs?per_page=1`, { headers: { 'x-api-key': key } })).json()) as { jobs: { id: string }[] };
  const id = created.jobs[0]?.id;
  if (!id) throw new Error('no job was created');
  return id;
}

/**
 * Cluster mode's read path: a gateway process in cluster mode (real control plane, real NATS)
 * answers GET /jobs/{id} from its informer-fed cache; measured like the standalone one.
 */
async function clusterRead(): Promise<LoadResult | string> {
  try {
    requireBinaries();
  } catch {
    return 'skipped: no cluster binaries (bash test/cluster/build.sh)';
  }
  const cp = await startControlPlane({ controllerManager: false, scheduler: false });
  const nats = await startNats();
  const root = mkdtempSync(join(tmpdir(), 'kubeff-apibench-cluster-'));
  const data = mkdtempSync(join(tmpdir(), 'kubeff-apibench-cluster-data-'));
  let child: ChildProcess | undefined;
  try {
    const crd = await cp.kubectl(['apply', '-f', join(repo, 'crds', 'mediajobs.kubeff.io.yaml')]);
    if (crd.code !== 0) throw new Error(crd.stderr);
    await cp.kubectl(['wait', '--for=condition=Established', 'crd/mediajobs.kubeff.io', '--timeout=60s']);
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=1', '-c:v', 'libx264', '-preset', 'ultrafast', join(root, 'in.mp4')]);
    const port = await freePort();
    child = spawn(node, [join(repo, 'gateway/src/server.ts')], {
      env: { ...process.env, ...cp.env(), KUBEFF_MODE: 'cluster', KUBEFF_NAMESPACE: 'default', NATS_URL: nats.url, PORT: String(port), HOST: '127.0.0.1', KUBEFF_STORAGE_ROOT: root, KUBEFF_DATA_DIR: data, KUBEFF_API_KEYS: key, LOG_LEVEL: 'info', KUBEFF_RATE_LIMIT_PER_SECOND: '1000000', KUBEFF_RATE_LIMIT_PER_HOUR: '100000000' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const url = `http://127.0.0.1:${port}`;
    await untilHealthy(url, child);
    const res = await fetch(`${url}/api/v1/convert`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: submission });
    if (res.status !== 201) throw new Error(`cluster submission: ${res.status} ${await res.text()}`);
    const id = ((await res.json()) as { job: { id: string } }).job.id;
    await get(url, id); // warm-up
    return await get(url, id);
  } finally {
    child?.kill('SIGTERM');
    await nats.stop();
    await cp.stop();
    rmSync(root, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const rows: string[] = [];
  // 1. The API alone: jobs are accepted and queued, none run (KUBEFF_WORKERS=0).
  const s = await server({ KUBEFF_WORKERS: '0' });
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=1', '-c:v', 'libx264', '-preset', 'ultrafast', join(s.root, 'in.mp4')]);
  try {
    await warm(s.url);
    const p = await post(s.url);
    const g = await get(s.url, await newestJob(s.url));
    rows.push(row('POST /api/v1/convert (accept + queue a job)', p, '≥ 3000 req/s, p99 < 15 ms'));
    rows.push(row('GET /api/v1/jobs/{id}', g, '≥ 12000 req/s, p99 < 10 ms'));
    summary({ apiPostRps: p.requestsPerSecond, apiPostP99Ms: p.p99Ms, apiGetRps: g.requestsPerSecond, apiGetP99Ms: g.p99Ms });
  } finally {
    s.child.kill('SIGTERM');
    rmSync(s.root, { recursive: true, force: true });
    rmSync(s.data, { recursive: true, force: true });
  }

  const c = await clusterRead();
  if (typeof c === 'string') rows.push(`| GET /api/v1/jobs/{id}, cluster mode (informer cache) | ${c} | | | | |`);
  else {
    rows.push(row('GET /api/v1/jobs/{id}, cluster mode (informer cache)', c, 'no slower than standalone'));
    summary({ apiClusterGetRps: c.requestsPerSecond, apiClusterGetP99Ms: c.p99Ms });
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
    rows.push(`| FFmpeg progress line → SSE client (${delays.length} events) | — | ${pct(delays, 50).toFixed(1)} ms | ${pct(delays, 99).toFixed(1)} ms | — | |`);
  } finally {
    s2.child.kill('SIGTERM');
    rmSync(s2.root, { recursive: true, force: true });
    rmSync(s2.data, { recursive: true, force: true });
  }

  console.log(`\nkubeff API bench — server and load generator as separate processes (${generator}), ${cpus().length} cores, LOG_LEVEL=info\n`);
  console.log('| measurement | throughput | p50 | p99 | errors | target |');
  console.log('|---|---:|---:|---:|---:|---|');
  for (const r of rows) console.log(r);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
