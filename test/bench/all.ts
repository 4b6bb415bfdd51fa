// npm run bench [-- --seconds N --rounds N]: the media benchmarks (options passed on), split and
// stitch, quality-driven encoding, then the API benchmarks, one after the other so they never
// compete for the machine; then the headline figures side by side against their targets.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSummary, type Figures } from './summary.ts';

const dir = mkdtempSync(join(tmpdir(), 'kubeff-bench-'));
const file = join(dir, 'summary.jsonl');
for (const [script, args] of [['run.ts', process.argv.slice(2)], ['split.ts', []], ['quality.ts', []], ['api.ts', []]] as const) {
  const r = spawnSync(process.execPath, [join(import.meta.dirname, script), ...args], { stdio: 'inherit', env: { ...process.env, KUBEFF_BENCH_SUMMARY: file } });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const f: Figures = readSummary(file);
rmSync(dir, { recursive: true, force: true });

/** A headline: its figure, how it is shown, and the target it is held to (if any). */
const rows: [string, number | undefined, (n: number) => string, ((n: number) => boolean) | undefined, string][] = [
  ['convert 10 s 1080p: job / bare FFmpeg (through the server)', f['workerRatio'], (n) => n.toFixed(3), (n) => n <= 1.03, '≤ 1.03'],
  ['  time outside FFmpeg per job', f['workerOverheadMs'], (n) => `${n.toFixed(0)} ms`, undefined, ''],
  ['convert 30 s 1080p: job / bare FFmpeg', f['workerRatioLong'], (n) => n.toFixed(3), undefined, '(info)'],
  ['a freshly started worker (as a pod) / bare FFmpeg', f['coldWorkerRatio'], (n) => n.toFixed(3), undefined, '(info)'],
  ['with output verification on / bare FFmpeg', f['verifiedRatio'], (n) => n.toFixed(3), undefined, '(info)'],
  ['POST /convert per second (standalone)', f['apiPostRps'], (n) => n.toFixed(0), (n) => n >= 3000, '≥ 3,000'],
  ['  p99', f['apiPostP99Ms'], (n) => `${n.toFixed(1)} ms`, (n) => n < 15, '< 15 ms'],
  ['GET /jobs/{id} per second (standalone)', f['apiGetRps'], (n) => n.toFixed(0), (n) => n >= 12000, '≥ 12,000'],
  ['  p99', f['apiGetP99Ms'], (n) => `${n.toFixed(1)} ms`, (n) => n < 10, '< 10 ms'],
  ['GET /jobs/{id} per second (cluster mode, informer cache)', f['apiClusterGetRps'], (n) => n.toFixed(0), undefined, '(no slower)'],
  ['  p99', f['apiClusterGetP99Ms'], (n) => `${n.toFixed(1)} ms`, undefined, ''],
];
console.log('\n## Headline figures of this run\n');
console.log('| measurement | this run | target | |');
console.log('|---|---:|---|---|');
for (const [name, value, show, ok, target] of rows) {
  if (value === undefined) continue;
  console.log(`| ${name} | ${show(value)} | ${target} | ${ok ? (ok(value) ? 'met' : '**missed**') : ''} |`);
}
