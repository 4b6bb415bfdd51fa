// Load generator, run as its own process by test/bench/api.ts so it does not share an event
// loop (or a core's time slices) with the server it measures. Bounded in count and time.
//   node test/bench/load.ts <url> <key> <post|get> <requests> <concurrency> [jobId]
const [url, key, mode, countArg, concArg, jobId] = process.argv.slice(2) as [string, string, string, string, string, string | undefined];
const count = Number(countArg);
const concurrency = Number(concArg);
const deadline = Date.now() + 120_000;
const latencies: number[] = [];
let errors = 0;
let next = 0;
const body = JSON.stringify({ input: '/storage/in.mp4', output: 'mkv' });

async function one(): Promise<void> {
  const t0 = performance.now();
  const res = mode === 'post'
    ? await fetch(`${url}/api/v1/convert`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body })
    : await fetch(`${url}/api/v1/jobs/${jobId}`, { headers: { 'x-api-key': key } });
  await res.arrayBuffer();
  latencies.push(performance.now() - t0);
  if (res.status >= 300) errors++;
}

async function lane(): Promise<void> {
  while (next < count && Date.now() < deadline) {
    next++;
    await one();
  }
}

const start = performance.now();
await Promise.all(Array.from({ length: concurrency }, lane));
const seconds = (performance.now() - start) / 1000;
process.stdout.write(JSON.stringify({ latencies, errors, seconds }));
