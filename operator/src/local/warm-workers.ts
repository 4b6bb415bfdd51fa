// Spare worker processes for standalone mode: Node started and the worker loaded, waiting on stdin
// for a job (kubeff-worker --await-job). Starting Node and loading the worker is ~80 ms of every
// job, 3 % of a 10 s 1080p encode; a spare started while the machine is idle takes it off the
// job's path. Each spare still runs one job and exits, so jobs stay as isolated as before.
//
// Spares are started when the runtime starts and when a worker exits (its slot, and its CPU, are
// free then), never while a job is being handed over: a starting Node would take CPU from the
// FFmpeg that was just started.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';

export interface WarmWorkersOptions {
  /** argv that starts the worker entrypoint; `--await-job` is added. */
  command: readonly string[];
  /** The environment every worker shares; a job's own variables come with the job. */
  env: NodeJS.ProcessEnv;
  /** How many spares to keep. */
  spares: number;
  log: Logger;
}

export class WarmWorkers {
  private readonly ready: ChildProcess[] = [];
  private stopped = false;
  private readonly o: WarmWorkersOptions;

  constructor(options: WarmWorkersOptions) {
    this.o = options;
  }

  /** Starts spares up to the number kept. */
  fill(): void {
    while (!this.stopped && this.ready.length < this.o.spares) {
      const [cmd, ...args] = this.o.command as [string, ...string[]];
      const child = spawn(cmd, [...args, '--await-job'], { env: this.o.env, stdio: ['pipe', 'pipe', 'pipe'] });
      child.on('error', (err) => this.o.log.warn({ err }, 'a spare worker failed to start'));
      // A spare that dies while waiting is dropped; the next fill replaces it.
      child.once('exit', () => {
        const i = this.ready.indexOf(child);
        if (i >= 0) this.ready.splice(i, 1);
      });
      this.ready.push(child);
    }
  }

  /**
   * A spare given its job: the arguments and environment a fresh worker would have been started
   * with. Undefined when none is alive (the caller starts a fresh process).
   */
  take(argv: readonly string[], env: Record<string, string>): ChildProcess | undefined {
    while (this.ready.length > 0) {
      const child = this.ready.shift() as ChildProcess;
      if (child.exitCode !== null || child.signalCode !== null || !child.stdin?.writable) continue;
      child.stdin.write(`${JSON.stringify({ argv, env })}\n`);
      return child;
    }
    return undefined;
  }

  /** Spares are told no job will come (end of stdin) and exit. */
  stop(): void {
    this.stopped = true;
    for (const child of this.ready.splice(0)) child.stdin?.end();
  }
}
