// NATS subjects and the JetStream stream that keeps them: `kubeff.jobs.<namespace>.<name>.<kind>`
// where kind is progress and log (the worker), event (the worker's own lifecycle, informative)
// and status (the operator's lifecycle events: queued, started, retry, complete, error,
// cancelled — the authoritative ones, published after the status is written), and split: the
// progress of one stage of a split job (plan, a chunk, the merge), which only the operator reads.
export const StreamName = 'KUBEFF_JOBS';
export const StreamSubjects = 'kubeff.jobs.>';

export type SubjectKind = 'progress' | 'log' | 'event' | 'status' | 'split';

/** Subject tokens may not contain '.', '*', '>' or whitespace (Kubernetes names never do). */
export function subjectToken(s: string): string {
  return s.replace(/[.*>\s]/g, '_') || '_';
}

export function jobSubject(namespace: string, name: string, kind: SubjectKind): string {
  return `kubeff.jobs.${subjectToken(namespace)}.${subjectToken(name)}.${kind}`;
}

/** Pure: the parts of a job subject, or undefined for anything else. */
export function parseJobSubject(subject: string): { namespace: string; name: string; kind: SubjectKind } | undefined {
  const m = /^kubeff\.jobs\.([^.]+)\.([^.]+)\.(progress|log|event|status|split)$/.exec(subject);
  return m ? { namespace: m[1] as string, name: m[2] as string, kind: m[3] as SubjectKind } : undefined;
}
