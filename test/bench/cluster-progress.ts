// Cluster bench: latency of live progress from the worker to an SSE client in cluster mode —
// worker (pod on the process node) → NATS → JetStream → the gateway replica's mirror → SSE. Each
// progress event carries the worker's own timestamp (`time`); the client notes when it arrives
// (same machine, same clock). Run after `bash test/cluster/build.sh` and `npm run build`:
//   node test/bench/cluster-progress.ts [jobs=3]
import { SseParser } from '../../sdk/src/sse-parser.ts';
import { makeSource } from '../support/media.ts';
import { startStack } from '../cluster/stack.ts';

const jobs = Number(process.argv[2] ?? 3);
const key = 'kff_bench0000000_clusterbenchsecretclusterbenchsecret';
const stack = await startStack({ namespace: 'kubeff' });
try {
  makeSource(stack.storage.host('/storage/bench.mp4'), { seconds: 20, width: 1280, height: 720 });
  const { url } = await stack.startReplica('bench', { KUBEFF_API_KEYS: key, KUBEFF_RATE_LIMIT_PER_SECOND: '1000' });
  const latencies: number[] = [];
  for (let i = 0; i < jobs; i++) {
    const res = await fetch(`${url}/api/v1/convert`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: JSON.stringify({ input: '/storage/bench.mp4', output: { path: `/storage/out/bench-${i}.mp4`, video: { preset: 'veryfast' } } }) });
    const id = ((await res.json()) as { job: { id: string } }).job.id;
    const sse = await fetch(`${url}/api/v1/jobs/${id}/events`, { headers: { 'x-api-key': key } });
    const reader = sse.body?.getReader();
    if (!reader) throw new Error('no SSE body');
    const parser = new SseParser();
    let done = false;
    const deadline = Date.now() + 180_000;
    while (!done && Date.now() < deadline) {
      const { done: end, value } = await reader.read();
      if (end) break;
      const now = Date.now();
      for (const e of parser.pushBytes(value)) {
        if (e.event === 'progress') {
          const t = Date.parse((JSON.parse(e.data) as { time?: string }).time ?? '');
          if (Number.isFinite(t)) latencies.push(now - t);
        }
        if (['complete', 'error', 'cancelled'].includes(e.event)) done = true;
      }
    }
    await reader.cancel().catch(() => undefined);
  }
  latencies.sort((x, y) => x - y);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  console.log(`progress worker → SSE (cluster mode), ${latencies.length} events over ${jobs} jobs: p50 ${q(0.5)} ms, p90 ${q(0.9)} ms, p99 ${q(0.99)} ms, max ${latencies.at(-1)} ms`);
} finally {
  await stack.stop();
}
