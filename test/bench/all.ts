// npm run bench [-- --seconds N --rounds N]: the media benchmarks (options passed on), split and
// stitch, quality-driven encoding, then the API benchmarks, one after the other so they never compete for the machine.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

for (const [script, args] of [['run.ts', process.argv.slice(2)], ['split.ts', []], ['quality.ts', []], ['api.ts', []]] as const) {
  const r = spawnSync(process.execPath, [join(import.meta.dirname, script), ...args], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
