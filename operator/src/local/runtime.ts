// The standalone runtime of the reconciler: admits queued MediaJobs under the concurrency limits
// (the same pure decisions as the cluster operator), runs the worker entrypoint as a child
// process per attempt, turns its JSON-line events into status and stored events, and applies the
// retry policy to its exit code. After a crash or restart, interrupted jobs are requeued.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { WorkerResult } from '../../../crds/src/status.ts';
import { dropUndefined } from '../../../crds/src/fields.ts';
import { admit, type AdmissionLimits } from '../admission.ts';
import type { JobEventBus } from '../bus.ts';
import { afterExit, defaultRetryPolicy, type RetryPolicy } from '../retry.ts';
import type { JobRecord, Store } from './store.ts';

export interface LocalRuntimeOptions {
  store: Store;
  bus: JobEventBus;
  log: Logger;
  /** argv that starts the worker entrypoint, e.g. [node, kubeff-worker.mjs]. */
  workerCommand: readonly string[];
  storageRoot: string;
  /** Scratch folder for result files. */
  workDir: string;
  limits: AdmissionLimits;
  retry?: RetryPolicy;
  /** Extra environment for workers (FFMPEG_PATH...). */
  env?: NodeJS.ProcessEnv;
  /** Traces each attempt as a span in the trace of the request that created the job. */
  tracer?: JobTracer | undefined;
  tickMs?: number;
}

export interface JobTracer {
  startAttempt(job: JobRecord, attempt: number): { end(outcome: string, error?: string): void };
}

interface Running {
  job: JobRecord;
  span?: ReturnType<JobTracer['startAttempt']> | undefined;
  child: ChildProcess;
  attempt: number;
  cancelRequested: boolean;
}

const now = () => new Date().toISOString();

export class LocalRuntime {
  private readonly o: LocalRuntimeOptions & { retry: RetryPolicy; tickMs: number };
  private readonly running = new Map<string, Running>();
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private ticking = false;
  private tickScheduled = false;

  constructor(options: LocalRuntimeOptions) {
    this.o = { retry: defaultRetryPolicy, tickMs: 500, ...options };
    mkdirSync(this.o.workDir, { recursive: true });
  }

  start(): void {
    this.recover();
    this.timer = setInterval(() => this.tick(), this.o.tickMs);
    this.timer.unref();
    this.tick();
  }

  /** Records a new job and wakes the admission loop. */
  submit(job: JobRecord): void {
    this.o.store.createJob(job);
    this.emit(job.id, 'queued', { status: 'queued', priority: job.priority });
    this.scheduleTick();
  }

  /** Cancels a job; a running one has its worker stopped (SIGTERM: FFmpeg stops, partials go). */
  cancel(id: string): JobRecord | undefined {
    const r = this.running.get(id);
    if (r) {
      r.cancelRequested = true;
      r.child.kill('SIGTERM');
      // The phase becomes cancelled now and stays so: the worker's late report cannot undo it.
    }
    const updated = this.o.store.updateStatus(id, { phase: 'cancelled', stage: 'cancelled', completedAt: now(), etaSeconds: 0 });
    if (updated) this.emit(id, 'cancelled', { status: 'cancelled' });
    return updated;
  }

  runningCount(): number {
    return this.running.size;
  }

  /** Stops admitting; running workers are stopped and their jobs requeued for the next start. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    const exits = [...this.running.values()].map((r) => new Promise<void>((resolve) => {
      if (r.child.exitCode !== null || r.child.signalCode !== null) return resolve();
      // A worker that ignores SIGTERM is killed after a grace period: shutdown always ends.
      const kill = setTimeout(() => r.child.kill('SIGKILL'), 10_000);
      r.child.once('close', () => {
        clearTimeout(kill);
        resolve();
      });
      r.child.kill('SIGTERM');
    }));
    await Promise.all(exits);
  }

  /** Jobs left "processing" by a previous process are requeued, or failed once out of attempts. */
  private recover(): void {
    for (const job of this.o.store.jobsInPhase('processing')) {
      const attempts = job.status.attempts ?? 1;
      if (attempts < this.o.retry.maxAttempts) {
        this.o.store.updateStatus(job.id, { phase: 'queued', stage: 'queued', progress: 0 }, { notBefore: null });
        this.emit(job.id, 'requeued', { status: 'queued', reason: 'interrupted by a restart', attempts });
        this.o.log.warn({ jobId: job.id, attempts }, 'requeued a job interrupted by a restart');
      } else {
        this.o.store.updateStatus(job.id, {
          phase: 'failed',
          stage: 'failed',
          completedAt: now(),
          error: { code: 'PROCESSING_FAILED', message: `interrupted by a restart after ${attempts} attempts`, retryable: true },
        });
        this.emit(job.id, 'error', { status: 'failed', error: { code: 'PROCESSING_FAILED', message: 'interrupted by a restart' } });
      }
    }
  }

  /** Many submissions in a burst share one admission pass. */
  private scheduleTick(): void {
    if (this.tickScheduled) return;
    this.tickScheduled = true;
    setImmediate(() => {
      this.tickScheduled = false;
      this.tick();
    });
  }

  private tick(): void {
    if (this.stopping || this.ticking) return;
    // No free slot: nothing to admit, so no need to read the queue.
    if (this.running.size >= this.o.limits.global) return;
    this.ticking = true;
    try {
      const t = now();
      const queued = this.o.store.queuedJobs().filter((j) => !j.notBefore || j.notBefore <= t);
      const owners = [...this.running.values()].map((r) => r.job.owner);
      for (const id of admit(queued, owners, this.o.limits)) {
        const job = this.o.store.getJob(id);
        if (job && job.status.phase === 'queued') this.launch(job);
      }
    } catch (err) {
      this.o.log.error({ err }, 'admission failed');
    } finally {
      this.ticking = false;
    }
  }

  private launch(job: JobRecord): void {
    const attempt = (job.status.attempts ?? 0) + 1;
    const started = this.o.store.updateStatus(job.id, { phase: 'processing', stage: 'starting', attempts: attempt, startedAt: job.status.startedAt ?? now(), progress: 0 });
    if (!started) return;
    const resultPath = join(this.o.workDir, `${job.id}.${attempt}.result.json`);
    const [cmd, ...args] = this.o.workerCommand as [string, ...string[]];
    // stdin stays open as a lifeline: if this process dies, the worker sees EOF and stops.
    const child = spawn(cmd, [...args, '--job-id', job.id, '--result', resultPath, '--exit-with-parent'], {
      env: {
        ...process.env,
        ...this.o.env,
        KUBEFF_SPEC: JSON.stringify(job.spec),
        KUBEFF_STORAGE_ROOT: this.o.storageRoot,
        KUBEFF_JOB_ID: job.id,
        ...(job.traceparent ? { TRACEPARENT: job.traceparent } : {}),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const run: Running = { job: started, child, attempt, cancelRequested: false, span: this.o.tracer?.startAttempt(started, attempt) };
    this.running.set(job.id, run);
    const log = this.o.log.child({ jobId: job.id, attempt });
    log.info({ type: job.spec.type }, 'job started');
    this.emit(job.id, 'started', { status: 'processing', attempt });

    let buf = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) this.onWorkerLine(run, line);
      }
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
    child.on('error', (err) => log.error({ err }, 'worker failed to start'));
    child.on('close', (code, signal) => {
      this.running.delete(job.id);
      try {
        this.onWorkerExit(run, code, signal, resultPath, stderr);
      } catch (err) {
        log.error({ err }, 'recording the worker result failed');
      }
      rmSync(resultPath, { force: true });
      this.scheduleTick();
    });
  }

  private onWorkerLine(run: Running, line: string): void {
    let e: { type?: string; stage?: string; percentage?: number; fps?: number; speed?: number; etaSeconds?: number; line?: string; time?: string };
    try {
      e = JSON.parse(line) as typeof e;
    } catch {
      return; // not an event line
    }
    const id = run.job.id;
    if (run.cancelRequested) return;
    switch (e.type) {
      case 'progress':
        this.o.store.updateStatus(id, dropUndefined({ progress: e.percentage, stage: e.stage, fps: e.fps, speed: e.speed, etaSeconds: e.etaSeconds }));
        this.emit(id, 'progress', dropUndefined({ percentage: e.percentage, stage: e.stage, fps: e.fps, speed: e.speed, eta_seconds: e.etaSeconds, time: e.time }), e.time);
        break;
      case 'stage':
        this.o.store.updateStatus(id, { stage: e.stage });
        break;
      case 'log':
        this.emit(id, 'log', { line: e.line }, e.time);
        break;
      default:
        break; // started/completed/failed: the exit code and result file are authoritative
    }
  }

  private onWorkerExit(run: Running, code: number | null, signal: NodeJS.Signals | null, resultPath: string, stderr: string): void {
    const id = run.job.id;
    const log = this.o.log.child({ jobId: id, attempt: run.attempt });
    let result: WorkerResult | undefined;
    try {
      result = JSON.parse(readFileSync(resultPath, 'utf8')) as WorkerResult;
    } catch {
      result = undefined;
    }
    run.span?.end(run.cancelRequested ? 'cancelled' : code === 0 ? 'completed' : `exit ${signal ?? code}`, result?.error?.message);
    if (run.cancelRequested) {
      log.info({ code }, 'job cancelled');
      return; // already cancelled and final
    }
    if (this.stopping) {
      // A shutdown interrupted it: back to the queue for the next start, attempt not counted.
      this.o.store.updateStatus(id, { phase: 'queued', stage: 'queued', progress: 0, attempts: run.attempt - 1 });
      return;
    }
    const decision = afterExit(code, run.attempt, this.o.retry);
    if (decision.action === 'complete' && result) {
      const outputs = result.outputs;
      const updated = this.o.store.updateStatus(id, dropUndefined({
        phase: 'completed', stage: 'completed', progress: 100, etaSeconds: 0, completedAt: now(), outputs, metrics: result.metrics, acceleration: result.acceleration,
      }));
      if (updated) this.emit(id, 'complete', dropUndefined({ status: 'completed', output_path: outputs[0]?.path, outputs, metrics: result.metrics }));
      log.info({ outputs: outputs.length, seconds: result.processingSeconds }, 'job completed');
      return;
    }
    const error = result?.error ?? { code: 'PROCESSING_FAILED', message: `worker exited with ${signal ?? code}${stderr ? `: ${stderr.trim().split('\n').pop()}` : ''}`, retryable: true };
    if (decision.action === 'retry') {
      const notBefore = new Date(Date.now() + decision.delayMs).toISOString();
      this.o.store.updateStatus(id, { phase: 'queued', stage: 'waiting to retry', error }, { notBefore });
      this.emit(id, 'retry', { status: 'queued', attempt: run.attempt, delay_seconds: decision.delayMs / 1000, error });
      log.warn({ code, delayMs: decision.delayMs, error }, 'job will be retried');
      return;
    }
    const updated = this.o.store.updateStatus(id, { phase: 'failed', stage: 'failed', completedAt: now(), etaSeconds: 0, error });
    if (updated) this.emit(id, 'error', { status: 'failed', error });
    log.warn({ code, error }, 'job failed');
  }

  private emit(jobId: string, type: string, data: unknown, time?: string): void {
    const e = this.o.store.appendEvent(jobId, type, data, time);
    this.o.bus.publish(e);
  }
}

