// Exit codes of the worker. The operator's podFailurePolicy and the local runtime read them:
// invalid input is never retried, a transient failure is.
export const ExitCode = {
  ok: 0,
  /** Internal bug; retried like a transient failure since it may be environmental. */
  internal: 1,
  /** The spec is invalid (schema or semantic rules). Never retried. */
  invalidSpec: 64,
  /** The input media is missing, corrupt or lacks what the spec needs. Never retried. */
  invalidInput: 65,
  /** A requested capability is missing here (e.g. nvenc without a GPU). Never retried on this node. */
  unavailable: 69,
  /** The output was written but is not what was asked (verification, quality gate). Never retried. */
  outputRejected: 70,
  /** Something that may work next time (FFmpeg crashed, disk full, killed). Retried. */
  transient: 75,
  /** Stopped by SIGTERM/SIGINT (cancellation): partial outputs removed. */
  cancelled: 80,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export const NonRetryableExitCodes: readonly number[] = [ExitCode.invalidSpec, ExitCode.invalidInput, ExitCode.unavailable, ExitCode.outputRejected, ExitCode.cancelled];

/**
 * The exit codes a pod fails fast on (a Job's podFailurePolicy). Not `cancelled`: a pod gets
 * SIGTERM when its Job is deleted (cancellation: nothing is retried anyway) but also when the pod
 * alone is deleted or its node drained, and then the work must go on in a new pod.
 */
export const FailFastExitCodes: readonly number[] = [ExitCode.invalidSpec, ExitCode.invalidInput, ExitCode.unavailable, ExitCode.outputRejected];
