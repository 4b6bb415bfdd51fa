// Runs one FFmpeg step: progress from stdout (-progress pipe:1), log lines from stderr (split on
// \r and \n, only the tail kept), and a clean stop when the job is cancelled.
import { spawn } from 'node:child_process';
import { ExitCode } from './exit-codes.ts';
import { JobFailure } from './failure.ts';
import type { FfmpegStep } from './plan/types.ts';
import { ProgressParser, progressOf, type Progress } from './progress.ts';
import { redactSecrets } from './redact.ts';

export interface RunHooks {
  onProgress?(p: Progress): void;
  onLog?(line: string): void;
}

export interface StepResult {
  /** The last lines FFmpeg wrote to stderr. */
  tail: string[];
}

const tailLines = 200;
const killGraceMs = 3000;

export function runStep(step: FfmpegStep, hooks: RunHooks, signal?: AbortSignal): Promise<StepResult> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelled());
    const child = spawn(step.ffmpeg, step.args, { cwd: step.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const parser = new ProgressParser();
    const tail: string[] = [];
    let partial = '';
    let killTimer: NodeJS.Timeout | undefined;

    const onAbort = () => {
      // A cancelled job's output is thrown away, so there is nothing for FFmpeg to finish:
      // SIGKILL stops it at once (on SIGTERM, encoders with deep lookahead such as x265 keep
      // flushing frames for seconds).
      child.kill('SIGKILL');
      killTimer = setTimeout(() => child.kill('SIGKILL'), killGraceMs);
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      for (const s of parser.push(chunk)) hooks.onProgress?.(progressOf(s, step.expectedSeconds));
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (partial + chunk).split(/\r\n|\r|\n/);
      partial = parts.pop() ?? '';
      for (const line of parts) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > tailLines) tail.shift();
        hooks.onLog?.(line);
      }
    });
    child.on('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new JobFailure('UNSUPPORTED_CAPABILITY', ExitCode.unavailable, `cannot run FFmpeg (${step.ffmpeg}): ${err.message}`));
    });
    child.on('close', (code, sig) => {
      clearTimeout(killTimer);
      signal?.removeEventListener('abort', onAbort);
      if (partial.trim()) tail.push(partial);
      if (signal?.aborted) return reject(cancelled());
      if (code === 0) return resolve({ tail });
      reject(classify(code, sig, tail));
    });
  });
}

function cancelled(): JobFailure {
  return new JobFailure('CANCELLED', ExitCode.cancelled, 'job was cancelled');
}

const inputProblems = [
  /Invalid data found when processing input/i,
  /moov atom not found/i,
  /could not find codec parameters/i,
  /does not contain any stream/i,
  /Output file #\d+ does not contain any stream/i,
  /Stream specifier .* matches no streams/i,
  /Error while decoding stream/i,
  /corrupt/i,
];
const capabilityProblems = [/Unknown encoder/i, /Encoder .* not found/i, /No such filter/i, /Cannot load/i, /No NVENC capable devices/i];

/** Pure: invalid input (never retried) vs missing capability vs transient failure. */
export function classify(code: number | null, sig: NodeJS.Signals | null, tail: readonly string[]): JobFailure {
  const text = tail.slice(-40).join('\n');
  const last = [...tail].reverse().find((l) => /error|invalid|failed|not found|cannot/i.test(l)) ?? tail[tail.length - 1] ?? '';
  const detail = redactSecrets(last.replace(/^\[[^\]]*\]\s*/, '').replace(/file:\/[^\s:]*/g, '<file>')).slice(0, 300);
  if (sig) return new JobFailure('PROCESSING_FAILED', ExitCode.transient, `FFmpeg was killed by ${sig}`);
  if (capabilityProblems.some((r) => r.test(text))) return new JobFailure('UNSUPPORTED_CAPABILITY', ExitCode.unavailable, `FFmpeg lacks what the job needs: ${detail}`);
  if (inputProblems.some((r) => r.test(text))) return new JobFailure('INVALID_INPUT', ExitCode.invalidInput, `the input could not be processed: ${detail}`, 'input');
  return new JobFailure('PROCESSING_FAILED', ExitCode.transient, `FFmpeg failed with exit code ${code}: ${detail}`);
}
