// The standalone runtime of the reconciler: admits queued MediaJobs under the concurrency limits
// (the same pure decisions as the cluster operator), runs the worker entrypoint as a child
// process per attempt, turns its JSON-line events into status and stored events, and applies the
// retry policy to its exit code. After a crash or restart, interrupted jobs are requeued.
// A split job runs as stages on the same pool of worker processes: a plan, its chunks (each
// retried alone), then a merge; its working folder goes when the job ends, however it ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Chunking, WorkerResult } from '../../../crds/src/status.ts';
import { ReservedFolder } from '../../../crds/src/paths.ts';
import { dropUndefined } from '../../../crds/src/fields.ts';
import { admit, type AdmissionLimits } from '../admission.ts';
import type { JobEventBus } from '../bus.ts';
import { afterExit, defaultRetryPolicy, type RetryPolicy } from '../retry.ts';
import { chunkSecondsOf, isSplitJob, splitEta, splitPercentage, type SplitPhase } from '../split.ts';
import { isTerminal } from '../phases.ts';
import type { JobRecord, Store } from './store.ts';
import { WarmWorkers } from './warm-workers.ts';

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
  /** Worker processes kept started and waiting for a job (see warm-workers.ts); default 0. */
  spareWorkers?: number;
}

export interface JobTracer {
  startAttempt(job: JobRecord, attempt: number): { end(outcome: string, error?: string): void };
}

interface Running {
  job: JobRecord;
  span?: ReturnType<JobTracer['startAttempt']> | undefined;
  /** The job's worker processes now: one, or for a split job its running chunks. */
  children: Set<ChildProcess>;
  attempt: number;
  cancelRequested: boolean;
  split?: SplitRun | undefined;
  /** Set once the job has ended (failed while chunks still ran): their exits change nothing. */
  ended: boolean;
  /** Set when a whole job's worker reported its completed result: its exit changes nothing. */
  completed?: boolean;
}

/** The state of a split job between its stages. */
interface SplitRun {
  phase: SplitPhase;
  chunkSeconds: number[];
  chunkPercent: number[];
  chunkSpeed: number[];
  chunkAttempts: number[];
  /** Chunk indices waiting for a process, in order. */
  pending: number[];
  completed: Set<number>;
  failed: number;
  concurrency: number;
  mergeAttempts: number;
  mergePercent: number;
  lastPercentage: number;
  chunking?: Chunking | undefined;
  /** The audio, encoded once beside the chunks: none to encode, to start, running, between attempts, or done. */
  audio: 'none' | 'pending' | 'running' | 'waiting' | 'done';
  audioAttempts: number;
}

/** A worker process of a job: the whole job, or one stage of a split job. */
type Task = { kind: 'whole' } | { kind: 'plan' } | { kind: 'chunk'; index: number } | { kind: 'audio' } | { kind: 'merge' };

const now = () => new Date().toISOString();

/** A worker's completed result as its event carries it (the shape is the worker's; checked lightly). */
function isCompletedResult(r: unknown): r is WorkerResult {
  return typeof r === 'object' && r !== null && (r as { status?: unknown }).status === 'completed' && Array.isArray((r as { outputs?: unknown }).outputs);
}

export class LocalRuntime {
  private readonly o: LocalRuntimeOptions & { retry: RetryPolicy; tickMs: number };
  private readonly running = new Map<string, Running>();
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private ticking = false;
  private tickScheduled = false;

  private readonly warm: WarmWorkers | undefined;

  constructor(options: LocalRuntimeOptions) {
    this.o = { retry: defaultRetryPolicy, tickMs: 500, ...options };
    const spares = Math.min(options.spareWorkers ?? 0, options.limits.global);
    this.warm = spares > 0 ? new WarmWorkers({ command: options.workerCommand, env: this.workerEnv(), spares, log: options.log }) : undefined;
    mkdirSync(this.o.workDir, { recursive: true });
  }

  /** What every worker process shares; a job's own variables are added to it. */
  private workerEnv(): NodeJS.ProcessEnv {
    return { ...process.env, ...this.o.env, KUBEFF_STORAGE_ROOT: this.o.storageRoot };
  }

  start(): void {
    this.recover();
    this.removeOrphanSplitFolders();
    this.warm?.fill();
    this.timer = setInterval(() => this.tick(), this.o.tickMs);
    this.timer.unref();
    this.tick();
  }

  /** Records a new job and wakes the admission loop. */
  submit(job: JobRecord): void {
    // One commit for the job and its first event: half the WAL writes of two.
    const e = this.o.store.tx(() => {
      this.o.store.createJob(job);
      return this.o.store.appendEvent(job.id, 'queued', { status: 'queued', priority: job.priority });
    });
    this.o.bus.publish(e);
    this.scheduleTick();
  }

  /** Cancels a job; a running one has its worker stopped (SIGTERM: FFmpeg stops, partials go). */
  cancel(id: string): JobRecord | undefined {
    const r = this.running.get(id);
    if (r) {
      r.cancelRequested = true;
      for (const c of r.children) c.kill('SIGTERM');
      if (r.split) {
        r.split.pending = [];
        // Between stages (a chunk waiting to be retried) no process will report back: settle now.
        if (r.children.size === 0) {
          r.span?.end('cancelled');
          this.finishSplit(r);
        }
      }
      // The phase becomes cancelled now and stays so: the worker's late report cannot undo it.
    }
    const updated = this.o.store.updateStatus(id, { phase: 'cancelled', stage: 'cancelled', completedAt: now(), etaSeconds: 0 });
    if (updated) this.emit(id, 'cancelled', { status: 'cancelled' });
    return updated;
  }

  runningCount(): number {
    return this.running.size;
  }

  /**
   * Worker processes running now, all jobs together: what the pool's size limits. A split job's
   * audio step is left out: one light thread beside the chunks, it must not hold a chunk back.
   */
  private processCount(): number {
    let n = 0;
    for (const r of this.running.values()) n += this.chunkProcesses(r);
    return n;
  }

  private chunkProcesses(r: Running): number {
    return r.children.size - (r.split?.audio === 'running' ? 1 : 0);
  }

  /** Stops admitting; running workers are stopped and their jobs requeued for the next start. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    this.warm?.stop();
    const exits = [...this.running.values()].flatMap((r) => [...r.children]).map((child) => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      // A worker that ignores SIGTERM is killed after a grace period: shutdown always ends.
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('close', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
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
    this.ticking = true;
    try {
      // Chunks of jobs already running come first: a started job finishes before new ones start.
      for (const r of this.running.values()) {
        const sp = r.split;
        if (sp?.phase === 'chunks' && sp.audio === 'pending') {
          sp.audio = 'running';
          this.spawnTask(r, { kind: 'audio' });
        }
        while (sp && sp.phase === 'chunks' && sp.pending.length && this.chunkProcesses(r) < sp.concurrency && this.processCount() < this.o.limits.global) {
          this.spawnTask(r, { kind: 'chunk', index: sp.pending.shift() as number });
        }
      }
      // No free process: nothing to admit, so no need to read the queue.
      const free = this.o.limits.global - this.processCount();
      if (free <= 0) return;
      const t = now();
      const queued = this.o.store.queuedJobs().filter((j) => !j.notBefore || j.notBefore <= t);
      const owners = [...this.running.values()].map((r) => r.job.owner);
      for (const id of admit(queued, owners, { global: owners.length + free, perOwner: this.o.limits.perOwner })) {
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
    const run: Running = { job: started, children: new Set(), attempt, cancelRequested: false, ended: false, span: this.o.tracer?.startAttempt(started, attempt) };
    this.running.set(job.id, run);
    this.o.log.child({ jobId: job.id, attempt }).info({ type: job.spec.type, split: isSplitJob(job.spec) }, 'job started');
    this.emit(job.id, 'started', { status: 'processing', attempt });
    if (isSplitJob(job.spec)) {
      // A retried or restarted split job plans afresh: nothing of an earlier attempt is trusted.
      this.removeSplitFolder(job.id);
      run.split = { phase: 'plan', chunkSeconds: [], chunkPercent: [], chunkSpeed: [], chunkAttempts: [], pending: [], completed: new Set(), failed: 0, concurrency: 1, mergeAttempts: 0, mergePercent: 0, lastPercentage: -1, audio: 'none', audioAttempts: 0 };
      this.spawnTask(run, { kind: 'plan' });
    } else {
      this.spawnTask(run, { kind: 'whole' });
    }
  }

  /** Starts one worker process for a job (the whole job, or a stage of a split job). */
  private spawnTask(run: Running, task: Task): void {
    const job = run.job;
    const name = task.kind === 'chunk' ? `chunk-${task.index}` : task.kind;
    const resultPath = join(this.o.workDir, `${job.id}.${run.attempt}.${name}.result.json`);
    const stageArgs = task.kind === 'whole' ? [] : task.kind === 'plan' ? ['--stage', 'plan', '--capacity', String(this.o.limits.global)] : task.kind === 'chunk' ? ['--stage', 'chunk', '--chunk-index', String(task.index)] : ['--stage', task.kind];
    const [cmd, ...args] = this.o.workerCommand as [string, ...string[]];
    // stdin stays open as a lifeline: if this process dies, the worker sees EOF and stops.
    const argv = ['--job-id', job.id, '--result', resultPath, '--exit-with-parent', ...stageArgs];
    const jobEnv: Record<string, string> = { KUBEFF_SPEC: JSON.stringify(job.spec), KUBEFF_JOB_ID: job.id, ...(job.traceparent ? { TRACEPARENT: job.traceparent } : {}) };
    const child = this.warm?.take(argv, jobEnv) ?? spawn(cmd, [...args, ...argv], { env: { ...this.workerEnv(), ...jobEnv }, stdio: ['pipe', 'pipe', 'pipe'] });
    run.children.add(child);
    const log = this.o.log.child({ jobId: job.id, attempt: run.attempt, task: name });
    if (task.kind !== 'whole') log.info('split stage started');
    let buf = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) this.onWorkerLine(run, line, task);
      }
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
    child.on('error', (err) => log.error({ err }, 'worker failed to start'));
    child.on('close', (code, signal) => {
      run.children.delete(child);
      try {
        let result: WorkerResult | undefined;
        try {
          result = JSON.parse(readFileSync(resultPath, 'utf8')) as WorkerResult;
        } catch {
          result = undefined;
        }
        if (task.kind === 'whole') {
          this.running.delete(job.id);
          this.onWorkerExit(run, code, signal, result, stderr);
        } else {
          this.onStageExit(run, task, code, signal, result, stderr);
        }
      } catch (err) {
        log.error({ err }, 'recording the worker result failed');
      }
      rmSync(resultPath, { force: true });
      // A slot is free and its CPU with it: the time to start a spare for the next job.
      this.warm?.fill();
      this.scheduleTick();
    });
  }

  private onWorkerLine(run: Running, line: string, task: Task): void {
    let e: { type?: string; stage?: string; percentage?: number; fps?: number; speed?: number; etaSeconds?: number; line?: string; time?: string };
    try {
      e = JSON.parse(line) as typeof e;
    } catch {
      return; // not an event line
    }
    const id = run.job.id;
    if (run.cancelRequested || run.ended) return;
    if (run.split && task.kind !== 'whole' && (e.type === 'progress' || e.type === 'stage')) {
      this.onSplitProgress(run, run.split, task, e);
      return;
    }
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
      case 'completed':
        // The outputs are published and described: the job is done now, not when Node has
        // finished tearing down (~10 ms later). A failure still waits for the exit code.
        if (task.kind === 'whole' && isCompletedResult((e as { result?: unknown }).result)) {
          run.completed = true;
          run.span?.end('completed');
          this.complete(run, (e as { result: WorkerResult }).result);
        }
        break;
      default:
        break; // started/failed/cancelled: the exit code and result file are authoritative
    }
  }

  private complete(run: Running, result: WorkerResult): void {
    const id = run.job.id;
    const outputs = result.outputs;
    const updated = this.o.store.updateStatus(id, dropUndefined({
      phase: 'completed', stage: 'completed', progress: 100, etaSeconds: 0, completedAt: now(), outputs, metrics: result.metrics, acceleration: result.acceleration,
      chunking: result.chunking ?? run.split?.chunking, verification: result.verification, quality: result.quality,
    }));
    if (updated) this.emit(id, 'complete', dropUndefined({ status: 'completed', output_path: outputs[0]?.path, outputs, metrics: result.metrics }));
    this.o.log.child({ jobId: id, attempt: run.attempt }).info({ outputs: outputs.length, seconds: result.processingSeconds }, 'job completed');
  }

  private onWorkerExit(run: Running, code: number | null, signal: NodeJS.Signals | null, result: WorkerResult | undefined, stderr: string): void {
    const id = run.job.id;
    const log = this.o.log.child({ jobId: id, attempt: run.attempt });
    if (run.completed) return; // settled when its completed result arrived
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
      this.complete(run, result);
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

  // --- Split jobs ---------------------------------------------------------------------------

  private onSplitProgress(run: Running, sp: SplitRun, task: Task, e: { type?: string; stage?: string; percentage?: number; fps?: number; speed?: number; time?: string }): void {
    const id = run.job.id;
    if (e.type === 'stage') {
      // Each stage's own stages (probing, encoding chunk 3/7) would flicker; the job shows its phase.
      const stage = task.kind === 'plan' ? 'planning' : task.kind === 'merge' ? e.stage ?? 'stitching' : undefined;
      if (stage) this.o.store.updateStatus(id, { stage });
      return;
    }
    if (task.kind === 'chunk') {
      sp.chunkPercent[task.index] = e.percentage ?? sp.chunkPercent[task.index] ?? 0;
      sp.chunkSpeed[task.index] = e.speed ?? 0;
    } else if (task.kind === 'merge') {
      sp.mergePercent = e.percentage ?? sp.mergePercent;
    } else return;
    const percentage = splitPercentage(sp);
    if (percentage === sp.lastPercentage) return;
    sp.lastPercentage = percentage;
    const running = sp.chunkSpeed.filter((_, i) => !sp.completed.has(i));
    const speed = task.kind === 'chunk' ? Math.round(running.reduce((a, b) => a + b, 0) * 100) / 100 : e.speed;
    const etaSeconds = task.kind === 'chunk' ? splitEta(sp, running) : undefined;
    const stage = sp.phase === 'chunks' ? 'encoding chunks' : (e.stage ?? 'stitching');
    this.o.store.updateStatus(id, dropUndefined({ progress: percentage, stage, speed, etaSeconds, fps: task.kind === 'merge' ? e.fps : undefined }));
    this.emit(id, 'progress', dropUndefined({ percentage, stage, speed, eta_seconds: etaSeconds, chunks: this.chunkCounts(sp), time: e.time }), e.time);
  }

  private chunkCounts(sp: SplitRun) {
    return { total: sp.chunkSeconds.length, completed: sp.completed.size, failed: sp.failed };
  }

  private onStageExit(run: Running, task: Exclude<Task, { kind: 'whole' }>, code: number | null, signal: NodeJS.Signals | null, result: WorkerResult | undefined, stderr: string): void {
    const id = run.job.id;
    const sp = run.split as SplitRun;
    const log = this.o.log.child({ jobId: id, attempt: run.attempt, task: task.kind === 'chunk' ? `chunk-${task.index}` : task.kind });
    if (run.cancelRequested || this.stopping || run.ended) {
      // Cancelled, shut down, or already failed: once the last process is gone the job is settled.
      if (run.children.size === 0) this.settleSplit(run, code, signal, result, stderr);
      return;
    }
    if (task.kind === 'plan') {
      const chunking = result?.chunking;
      // A plan that "succeeded" without a plan is an internal error, never a completed job.
      if (code !== 0 || !chunking) return this.settleSplit(run, code === 0 ? 1 : code, signal, result, stderr);
      if (chunking.count <= 1) {
        // Nothing to split (short input, "auto"): the job runs as one FFmpeg after all.
        this.removeSplitFolder(id);
        run.split = undefined;
        this.o.store.updateStatus(id, { chunking });
        log.info('plan made one chunk; running the job whole');
        this.spawnTask(run, { kind: 'whole' });
        return;
      }
      const seconds = chunkSecondsOf(chunking.boundaries);
      Object.assign(sp, {
        phase: 'chunks', chunkSeconds: seconds, chunkPercent: seconds.map(() => 0), chunkSpeed: seconds.map(() => 0), chunkAttempts: seconds.map(() => 0),
        pending: seconds.map((_, i) => i), concurrency: chunking.parallelism ?? chunking.count, chunking, audio: chunking.audio ? 'pending' : 'none',
      } satisfies Partial<SplitRun>);
      this.o.store.updateStatus(id, { stage: 'encoding chunks', chunks: this.chunkCounts(sp), chunking });
      this.emit(id, 'planned', { status: 'processing', stage: 'encoding chunks', chunks: this.chunkCounts(sp), chunking });
      log.info({ chunks: chunking.count, parallelism: sp.concurrency, onKeyframes: chunking.onKeyframes }, 'split job planned');
      return;
    }
    if (task.kind === 'audio') {
      sp.audioAttempts++;
      if (code === 0) {
        sp.audio = 'done';
        this.mergeWhenReady(run, sp);
        return;
      }
      const decision = afterExit(code, sp.audioAttempts, this.o.retry);
      if (decision.action === 'retry') {
        sp.audio = 'waiting';
        log.warn({ code, delayMs: decision.delayMs, error: result?.error }, 'audio will be retried');
        setTimeout(() => {
          if (run.ended || run.cancelRequested || this.stopping) return;
          sp.audio = 'pending';
          this.scheduleTick();
        }, decision.delayMs).unref();
        return;
      }
      run.ended = true;
      sp.pending = [];
      this.failSplit(run, code, signal, result, stderr, 'audio');
      for (const c of run.children) c.kill('SIGTERM');
      return;
    }
    if (task.kind === 'chunk') {
      sp.chunkAttempts[task.index] = (sp.chunkAttempts[task.index] ?? 0) + 1;
      if (code === 0) {
        sp.completed.add(task.index);
        sp.chunkPercent[task.index] = 100;
        sp.chunkSpeed[task.index] = 0;
        this.o.store.updateStatus(id, { chunks: this.chunkCounts(sp) });
        this.mergeWhenReady(run, sp);
        return;
      }
      sp.failed++;
      this.o.store.updateStatus(id, { chunks: this.chunkCounts(sp) });
      // A chunk that fails costs that chunk only: it is retried alone, with the job's policy.
      const decision = afterExit(code, sp.chunkAttempts[task.index] as number, this.o.retry);
      if (decision.action === 'retry') {
        sp.chunkPercent[task.index] = 0;
        log.warn({ code, delayMs: decision.delayMs, error: result?.error }, 'chunk will be retried');
        this.emit(id, 'retry', { status: 'processing', chunk: task.index, attempt: sp.chunkAttempts[task.index], delay_seconds: decision.delayMs / 1000, error: result?.error });
        setTimeout(() => {
          if (run.ended || run.cancelRequested || this.stopping) return;
          sp.pending.unshift(task.index);
          this.scheduleTick();
        }, decision.delayMs).unref();
        return;
      }
      // The job fails with this chunk: stop the others, settle when the last one is gone.
      run.ended = true;
      sp.pending = [];
      this.failSplit(run, code, signal, result, stderr, `chunk ${task.index}`);
      for (const c of run.children) c.kill('SIGTERM');
      return;
    }
    // merge
    sp.mergeAttempts++;
    if (code === 0 && result) return this.settleSplit(run, code, signal, result, stderr);
    const decision = afterExit(code, sp.mergeAttempts, this.o.retry);
    if (decision.action === 'retry') {
      log.warn({ code, delayMs: decision.delayMs, error: result?.error }, 'merge will be retried');
      setTimeout(() => {
        if (!run.ended && !run.cancelRequested && !this.stopping) this.spawnTask(run, { kind: 'merge' });
      }, decision.delayMs).unref();
      return;
    }
    run.ended = true;
    this.failSplit(run, code, signal, result, stderr, 'merge');
  }

  /** The merge starts once every chunk and the audio are encoded. */
  private mergeWhenReady(run: Running, sp: SplitRun): void {
    if (sp.phase !== 'chunks' || sp.completed.size < sp.chunkSeconds.length || (sp.audio !== 'none' && sp.audio !== 'done')) return;
    sp.phase = 'merge';
    this.o.store.updateStatus(run.job.id, { stage: 'stitching' });
    this.spawnTask(run, { kind: 'merge' });
  }

  /** Records a split job's failure now (its folder goes when its last process has exited). */
  private failSplit(run: Running, code: number | null, signal: NodeJS.Signals | null, result: WorkerResult | undefined, stderr: string, where: string): void {
    const id = run.job.id;
    const error = result?.error ?? { code: 'PROCESSING_FAILED', message: `${where}: worker exited with ${signal ?? code}${stderr ? `: ${stderr.trim().split('\n').pop()}` : ''}`, retryable: true };
    const updated = this.o.store.updateStatus(id, { phase: 'failed', stage: 'failed', completedAt: now(), etaSeconds: 0, error: { ...error, message: `${where}: ${error.message}` } });
    if (updated) this.emit(id, 'error', { status: 'failed', error: updated.status.error });
    run.span?.end(`exit ${signal ?? code}`, error.message);
    this.o.log.child({ jobId: id, attempt: run.attempt }).warn({ code, error, where }, 'split job failed');
    if (run.children.size === 0) this.finishSplit(run);
  }

  /**
   * The end of a split job's attempt when no stage can go on: a plan that failed, a merge that
   * finished, cancellation, shutdown. The whole-job rules (retry, requeue) then apply as usual.
   */
  private settleSplit(run: Running, code: number | null, signal: NodeJS.Signals | null, result: WorkerResult | undefined, stderr: string): void {
    if (run.ended) return this.finishSplit(run);
    this.finishSplit(run);
    this.onWorkerExit(run, run.cancelRequested ? 0 : code, signal, result, stderr);
  }

  private finishSplit(run: Running): void {
    this.running.delete(run.job.id);
    // A shut-down job keeps nothing either: its next start plans afresh.
    this.removeSplitFolder(run.job.id);
  }

  private splitFolder(jobId: string): string {
    return join(this.o.storageRoot, ReservedFolder, 'split', jobId);
  }

  private removeSplitFolder(jobId: string): void {
    rmSync(this.splitFolder(jobId), { recursive: true, force: true });
  }

  /** Folders of split jobs that no longer run (a crash between stages) are removed at start. */
  private removeOrphanSplitFolders(): void {
    const dir = join(this.o.storageRoot, ReservedFolder, 'split');
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const job = this.o.store.getJob(name);
      if (!job || isTerminal(job.status.phase)) {
        rmSync(join(dir, name), { recursive: true, force: true });
        this.o.log.info({ jobId: name }, 'removed the working folder of a split job that no longer runs');
      }
    }
  }

  private emit(jobId: string, type: string, data: unknown, time?: string): void {
    const e = this.o.store.appendEvent(jobId, type, data, time);
    this.o.bus.publish(e);
  }
}

