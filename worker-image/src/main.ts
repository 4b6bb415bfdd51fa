#!/usr/bin/env node
// The worker entrypoint: reads a MediaJob spec, runs it, writes the result, exits with a code
// that tells the runtime whether a retry can help. Same binary in a pod and as a local child.
//
//   kubeff-worker --spec spec.json [--result result.json] [--events events.jsonl]
//                 [--stage plan|chunk|audio|merge|cleanup [--chunk-index N] [--capacity N]]
//   kubeff-worker --await-job      (a warm spare: the job comes on stdin, see awaitJob)
//
// A split job runs as stages (split-run.ts); a chunk's index may also come from
// JOB_COMPLETION_INDEX, which an Indexed Job gives each of its pods.
//
// Environment: KUBEFF_SPEC (inline JSON instead of --spec), KUBEFF_JOB_ID, KUBEFF_STORAGE_ROOT
// (what /storage/ maps to; default /storage), KUBEFF_RESULT_PATH (default /dev/termination-log
// when it exists, else stdout), FFMPEG_PATH, FFPROBE_PATH, KUBEFF_VMAF_FFMPEG_PATH; S3 backends
// (KUBEFF_S3_*) and the HTTP(S) input policy (KUBEFF_HTTP_*), see storage.ts; KUBEFF_ENCODER_THREADS
// (-threads for encoders), KUBEFF_SPLIT_CAPACITY (workers a split job may use at once, for "auto").
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { JsonLinesSink } from './events.ts';
import { ExitCode } from './exit-codes.ts';
import { runJob } from './job.ts';
import { storageFromEnv, type Storage } from './storage.ts';
import { toolsFromEnv } from './tools.ts';
import { capabilities } from './capabilities.ts';
import { specValidator } from '@kubeff/crds';
import { resultText } from './result-text.ts';
import { SplitStages, type SplitStage } from './job-environment.ts';

/**
 * A warm worker (standalone mode's spare, started before there is a job): everything is loaded;
 * the first line on stdin is the job, `{argv, env}`, exactly the arguments and environment a
 * fresh worker would have been started with. End of stdin before it: no job will come, exit.
 */
function awaitJob(): Promise<{ argv: string[]; env: Record<string, string> } | undefined> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      done();
      try {
        resolve(JSON.parse(buf.slice(0, nl)) as { argv: string[]; env: Record<string, string> });
      } catch (err) {
        reject(new Error(`the job message is not JSON: ${(err as Error).message}`));
      }
    };
    const onEnd = () => {
      done();
      resolve(undefined);
    };
    const done = () => {
      process.stdin.off('data', onData).off('end', onEnd).off('error', onEnd);
      process.stdin.pause();
    };
    process.stdin.on('data', onData).on('end', onEnd).on('error', onEnd);
  });
}

async function main(): Promise<number> {
  let args = process.argv.slice(2);
  if (args.includes('--await-job')) {
    // What every job needs, done while there is none: the spec check compiled, the tools found,
    // the FFmpeg build's capabilities read (from their cache, or detected once).
    specValidator();
    await capabilities(toolsFromEnv(process.env).ffmpeg).catch(() => undefined);
    const job = await awaitJob();
    if (!job) return 0;
    Object.assign(process.env, job.env);
    args = job.argv;
  }
  const { values } = parseArgs({
    args,
    options: {
      spec: { type: 'string' },
      result: { type: 'string' },
      events: { type: 'string' },
      'job-id': { type: 'string' },
      stage: { type: 'string' },
      'chunk-index': { type: 'string' },
      capacity: { type: 'string' },
      // Local runtime: stdin is a pipe from the parent; its end means the parent died, so stop.
      'exit-with-parent': { type: 'boolean' },
    },
  });
  const env = process.env;
  const specText = values.spec ? await readFile(values.spec, 'utf8') : env['KUBEFF_SPEC'];
  if (!specText) {
    process.stderr.write('kubeff-worker: no spec (use --spec FILE or KUBEFF_SPEC)\n');
    return ExitCode.invalidSpec;
  }
  let spec: unknown;
  try {
    spec = JSON.parse(specText);
  } catch (err) {
    process.stderr.write(`kubeff-worker: spec is not JSON: ${(err as Error).message}\n`);
    return ExitCode.invalidSpec;
  }
  let storage: Storage;
  try {
    storage = storageFromEnv(env['KUBEFF_STORAGE_ROOT'] ?? '/storage', env);
  } catch (err) {
    // A misconfigured node (S3 backends, limits): this job cannot run here.
    process.stderr.write(`kubeff-worker: storage configuration: ${(err as Error).message}\n`);
    return ExitCode.unavailable;
  }
  let split: SplitStage | undefined;
  let encoderThreads: number | undefined;
  try {
    split = splitStageFrom(values.stage, values['chunk-index'] ?? env['JOB_COMPLETION_INDEX'], values.capacity ?? env['KUBEFF_SPLIT_CAPACITY']);
    encoderThreads = positiveInt(env['KUBEFF_ENCODER_THREADS'], 'KUBEFF_ENCODER_THREADS');
  } catch (err) {
    process.stderr.write(`kubeff-worker: ${(err as Error).message}\n`);
    return ExitCode.invalidSpec;
  }
  const jobId = values['job-id'] ?? env['KUBEFF_JOB_ID'] ?? randomUUID();
  const sink = new JsonLinesSink(values.events ?? process.stdout);
  const abort = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => abort.abort());
  if (values['exit-with-parent']) {
    // A dead parent also shows as EPIPE on the events pipe: stop (and clean up) rather than crash.
    sink.onBroken(() => abort.abort());
    process.stdin.on('end', () => abort.abort());
    process.stdin.on('error', () => abort.abort());
    process.stdin.resume();
  }

  // In a cluster, NATS_URL adds live events on NATS beside the JSON lines.
  const natsUrl = env['NATS_URL'];
  // Loaded only then: the NATS client is a third of the worker's code, and standalone never needs it.
  const nats = natsUrl ? await import('./nats-sink.ts') : undefined;
  const events = natsUrl && nats
    ? new nats.TeeSink(sink, new nats.NatsSink({ url: natsUrl, namespace: env['KUBEFF_NAMESPACE'] ?? 'default', name: jobId, traceparent: env['TRACEPARENT'], split: split && { stage: split.stage, index: split.stage === 'chunk' ? split.index : undefined } }))
    : sink;

  const { result, exitCode } = await runJob(spec, {
    jobId,
    storage,
    tools: toolsFromEnv(env),
    sink: events,
    signal: abort.signal,
    split,
    encoderThreads,
  });
  await events.close();
  // The lifeline has served its purpose; an open stdin would keep this process alive.
  if (values['exit-with-parent']) {
    process.stdin.removeAllListeners();
    process.stdin.destroy();
  }
  const resultPath = values.result ?? env['KUBEFF_RESULT_PATH'] ?? (existsSync('/dev/termination-log') ? '/dev/termination-log' : undefined);
  const text = resultText(result);
  if (resultPath) await writeFile(resultPath, text);
  else process.stdout.write(`${text}\n`);
  return exitCode;
}

function positiveInt(v: string | undefined, what: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new Error(`${what} must be a whole number from 1 to 1024, got '${v}'`);
  return n;
}

function splitStageFrom(stage: string | undefined, index: string | undefined, capacity: string | undefined): SplitStage | undefined {
  if (stage === undefined) return undefined;
  switch (stage) {
    case 'plan':
      return { stage, capacity: positiveInt(capacity, '--capacity') ?? 1 };
    case 'chunk': {
      const i = Number(index);
      if (index === undefined || !Number.isInteger(i) || i < 0) throw new Error(`--stage chunk needs --chunk-index (or JOB_COMPLETION_INDEX), got '${index ?? ''}'`);
      return { stage, index: i };
    }
    case 'audio':
    case 'merge':
    case 'cleanup':
      return { stage };
    default:
      throw new Error(`--stage must be one of ${SplitStages.join(', ')}, got '${stage}'`);
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`kubeff-worker: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = ExitCode.internal;
  },
);
