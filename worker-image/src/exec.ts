// Runs a program with an argv array (never a shell) and collects bounded output.
import { spawn } from 'node:child_process';

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const maxCapture = 4 * 1024 * 1024;

export function execFile(cmd: string, args: readonly string[], opts: { timeoutMs?: number; cwd?: string; signal?: AbortSignal; maxBuffer?: number; env?: NodeJS.ProcessEnv | undefined } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], signal: opts.signal, timeout: opts.timeoutMs ?? 60_000, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < (opts.maxBuffer ?? maxCapture)) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      // Keep the tail: FFmpeg's useful lines (errors, summaries) come last.
      stderr = (stderr + d).slice(-maxCapture);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
