// A job failure with the reference's error code and whether retrying can help.
import type { ErrorCode, FailureDetails, SpecIssue } from '@kubeff/crds';
import { ExitCode, type ExitCodeValue } from './exit-codes.ts';

export class JobFailure extends Error {
  readonly code: ErrorCode | 'PROCESSING_FAILED' | 'CANCELLED';
  readonly exitCode: ExitCodeValue;
  readonly field: string | undefined;
  readonly details: FailureDetails | undefined;
  constructor(code: JobFailure['code'], exitCode: ExitCodeValue, message: string, field?: string, details?: FailureDetails) {
    super(message);
    this.name = 'JobFailure';
    this.code = code;
    this.exitCode = exitCode;
    this.field = field;
    this.details = details;
  }
  get retryable(): boolean {
    return this.exitCode === ExitCode.transient || this.exitCode === ExitCode.internal;
  }
  static invalidInput(message: string, field = 'input'): JobFailure {
    return new JobFailure('INVALID_INPUT', ExitCode.invalidInput, message, field);
  }
  static fromIssue(i: SpecIssue): JobFailure {
    return new JobFailure(i.code, ExitCode.invalidSpec, i.message, i.details.field);
  }
}
