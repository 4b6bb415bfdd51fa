// Runs one MediaJob spec end to end (or, for a split job, one of its stages) and reports the
// result with an exit code that tells the runtime whether a retry can help.
import { firstSpecError, validateSpec, type MediaJobSpec, type WorkerResult } from '@kubeff/crds';
import { ExitCode, type ExitCodeValue } from './exit-codes.ts';
import { JobFailure } from './failure.ts';
import { JobRun } from './job-run.ts';
import { round } from './metrics.ts';
import { discard } from './outputs.ts';
import { SplitRun } from './split-run.ts';
import type { JobEnvironment } from './job-environment.ts';

export { defaultVmafModelDir } from './job-run.ts';
export type { JobEnvironment, SplitStage } from './job-environment.ts';

export interface JobOutcome {
  result: WorkerResult;
  exitCode: ExitCodeValue;
}

const now = () => new Date().toISOString();

export async function runJob(rawSpec: unknown, env: JobEnvironment): Promise<JobOutcome> {
  const started = performance.now();
  const cleanup: (string | undefined)[] = [];
  const elapsed = () => round((performance.now() - started) / 1000, 3);
  try {
    const spec = checkSpec(rawSpec);
    const run = env.split ? new SplitRun(spec, env, cleanup, env.split) : new JobRun(spec, env, cleanup);
    env.sink.emit({ type: 'started', time: now() });
    const { outputs, metrics, acceleration, chunking, verification, quality } = await run.execute();
    const result: WorkerResult = { status: 'completed', outputs, processingSeconds: elapsed() };
    if (chunking) result.chunking = chunking;
    if (metrics && Object.keys(metrics).length) result.metrics = metrics;
    if (acceleration) result.acceleration = acceleration;
    if (verification) result.verification = verification;
    if (quality && Object.keys(quality).length) result.quality = quality;
    env.sink.emit({ type: 'completed', time: now(), result });
    return { result, exitCode: ExitCode.ok };
  } catch (err) {
    const failure = err instanceof JobFailure ? err : new JobFailure('PROCESSING_FAILED', ExitCode.internal, `internal error: ${(err as Error).message}`);
    const status = failure.exitCode === ExitCode.cancelled ? 'cancelled' : 'failed';
    const result: WorkerResult = {
      status,
      outputs: [],
      processingSeconds: elapsed(),
      error: { code: failure.code, message: failure.message, retryable: failure.retryable, ...(failure.field ? { field: failure.field } : {}), ...(failure.details ? { details: failure.details } : {}) },
    };
    env.sink.emit({ type: status, time: now(), result });
    return { result, exitCode: failure.exitCode };
  } finally {
    await Promise.all(cleanup.map((p) => discard(p)));
  }
}

/** The schema and the semantic rules, checked again here: a MediaJob may come from kubectl. */
export function checkSpec(raw: unknown): MediaJobSpec {
  const first = firstSpecError(raw);
  if (first) throw new JobFailure('INVALID_REQUEST', ExitCode.invalidSpec, `spec is invalid: ${first.message}`, first.instancePath.replace(/^\//, '').replace(/\//g, '.') || 'spec');
  const spec = raw as MediaJobSpec;
  const issue = validateSpec(spec)[0];
  if (issue) throw JobFailure.fromIssue(issue);
  return spec;
}

