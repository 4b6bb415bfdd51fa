// Job-spec errors in the reference's vocabulary. A SpecError always names the offending field,
// so the gateway can answer 4xx with {field, value, allowed, suggestion} and the worker can refuse
// a spec before FFmpeg starts.

export const ErrorCodes = [
  'INVALID_INPUT',
  'INVALID_OUTPUT',
  'INVALID_REQUEST',
  'INVALID_OPERATION',
  'CODEC_MISMATCH',
  'INVALID_CODEC_FORMAT',
  'UNSUPPORTED_CAPABILITY',
  'INSUFFICIENT_RESOURCES',
  /** An output that FFmpeg wrote without error but that is broken (truncated, streams or length wrong). */
  'OUTPUT_VERIFICATION_FAILED',
  /** An output that measures below the job's quality gate. */
  'QUALITY_BELOW_TARGET',
] as const;
export type ErrorCode = (typeof ErrorCodes)[number];

export interface ErrorDetails {
  field: string;
  value?: unknown;
  allowed?: readonly (string | number)[];
  suggestion?: string;
}

export interface SpecIssue {
  code: ErrorCode;
  message: string;
  details: ErrorDetails;
}

export class SpecError extends Error {
  readonly issues: readonly SpecIssue[];
  constructor(issues: readonly SpecIssue[]) {
    super(issues.map((i) => `${i.details.field}: ${i.message}`).join('; '));
    this.name = 'SpecError';
    this.issues = issues;
  }
  get first(): SpecIssue {
    // The constructor is only ever called with at least one issue.
    return this.issues[0] as SpecIssue;
  }
}

export function issue(code: ErrorCode, field: string, message: string, extra: Omit<ErrorDetails, 'field'> = {}): SpecIssue {
  return { code, message, details: { field, ...extra } };
}
