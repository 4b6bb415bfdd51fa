// The API benchmarks' load generator: wrk (C, epoll; Debian's `wrk` package), one thread, in its
// own process. A Node load generator spends more CPU per request than the server it measures, so
// on two cores it, not the server, set the figures (5.8k GET/s with fetch against 24k with wrk).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
}

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** wrk, installed from Debian when missing and this user may (a fresh machine running `npm run bench`). */
export function ensureWrk(): boolean {
  if (has('wrk')) return true;
  if (process.getuid?.() !== 0 || !has('apt-get')) return false;
  try {
    execFileSync('sh', ['-c', 'apt-get install -y -qq wrk >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq wrk >/dev/null 2>&1)'], { stdio: 'ignore', timeout: 300_000 });
  } catch {
    return false;
  }
  return has('wrk');
}

const durationMs = (v: string, unit: string): number => Number(v) * ({ us: 0.001, ms: 1, s: 1000, m: 60_000 } as Record<string, number>)[unit]!;

/** Parses wrk's report (with --latency). */
export function parseWrk(out: string): LoadResult {
  const pct = (p: string) => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    if (!m) throw new Error(`wrk printed no ${p}th percentile:\n${out}`);
    return durationMs(m[1]!, m[2]!);
  };
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(out);
  const total = /^\s*(\d+) requests in/m.exec(out);
  if (!rps || !total) throw new Error(`unexpected wrk output:\n${out}`);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const sockErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return { requestsPerSecond: Number(rps[1]), p50Ms: pct('50'), p99Ms: pct('99'), requests: Number(total[1]), errors: non2xx + sockErrors };
}

/**
 * Runs wrk against one URL for `seconds` with `connections` kept-alive connections. A POST sends
 * `body` as JSON. Only loopback URLs are accepted: benchmarks never leave the machine.
 */
export function wrk(url: string, o: { key: string; method?: 'GET' | 'POST'; body?: string; seconds: number; connections: number }): Promise<LoadResult> {
  const u = new URL(url);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) throw new Error(`wrk: ${url} is not a loopback address`);
  const dir = mkdtempSync(join(tmpdir(), 'kubeff-wrk-'));
  const script = join(dir, 'request.lua');
  const lua = [
    `wrk.method = ${JSON.stringify(o.method ?? 'GET')}`,
    `wrk.headers["x-api-key"] = ${JSON.stringify(o.key)}`,
    ...(o.body === undefined ? [] : ['wrk.headers["content-type"] = "application/json"', `wrk.body = ${JSON.stringify(o.body)}`]),
  ].join('\n');
  writeFileSync(script, `${lua}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', ['-t1', `-c${o.connections}`, `-d${o.seconds}s`, '--latency', '--timeout', '5s', '-s', script, url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => {
      rmSync(dir, { recursive: true, force: true });
      if (code !== 0) reject(new Error(`wrk exited ${code}: ${err}`));
      else {
        try {
          resolve(parseWrk(out));
        } catch (e) {
          reject(e as Error);
        }
      }
    });
  });
}
