// What one worker run is given: its storage, tools, event sink and (for a split job) which stage it runs.
import type { EventSink } from './events.ts';
import type { Storage } from './storage.ts';
import type { Tools } from './tools.ts';

export interface JobEnvironment {
  jobId: string;
  storage: Storage;
  tools: Tools;
  sink: EventSink;
  signal?: AbortSignal;
  /** Where the VMAF model files are; defaults to the ones shipped beside the worker. */
  vmafModelDir?: string;
  /** A stage of a split job (plan, one chunk, merge, cleanup); absent: the whole job in one run. */
  split?: SplitStage | undefined;
  /** `-threads` for encoders (KUBEFF_ENCODER_THREADS). */
  encoderThreads?: number | undefined;
}

export type SplitStage =
  | { stage: 'plan'; capacity: number }
  | { stage: 'chunk'; index: number }
  | { stage: 'audio' }
  | { stage: 'merge' }
  | { stage: 'cleanup' };

export const SplitStages = ['plan', 'chunk', 'audio', 'merge', 'cleanup'] as const;
