// What the media benchmarks share: a child process timed from spawn to exit, and the worker
// entry they run (the bundle `npm run build` writes, which the runtimes start; else TypeScript).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const repo = join(import.meta.dirname, '../..');

export const workerEntry = existsSync(join(repo, 'worker-image/dist/kubeff-worker.mjs')) ? join(repo, 'worker-image/dist/kubeff-worker.mjs') : join(repo, 'worker-image/src/main.ts');

/** Runs a command to its end; resolves with its wall-clock seconds, rejects with its stderr's tail. */
export function timed(cmd: string, args: string[], opts: { cwd?: string | undefined; env?: NodeJS.ProcessEnv | undefined } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    child.on('close', (code) => (code === 0 ? resolve((performance.now() - t0) / 1000) : reject(new Error(`${cmd} exited ${code}: ${err}`))));
  });
}
