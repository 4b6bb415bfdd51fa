// The API's view of a MediaJob: the reference's job shape, derived from the stored record.
import type { JobRecord } from '../../operator/src/local/store.ts';
import { isTerminal } from '../../operator/src/phases.ts';

export function links(id: string) {
  return { self: `/api/v1/jobs/${id}`, events: `/api/v1/jobs/${id}/events`, logs: `/api/v1/jobs/${id}/logs` };
}

/** The short form returned by POST (201). */
export function jobSummary(j: JobRecord) {
  return {
    id: j.id,
    type: j.spec.type,
    status: j.status.phase,
    priority: j.priority,
    progress: j.status.progress ?? 0,
    // A finished job's stage is its outcome, not the last step its worker reported.
    stage: isTerminal(j.status.phase) ? j.status.phase : (j.status.stage ?? j.status.phase),
    created_at: j.createdAt,
    ...(j.batchId ? { batch_id: j.batchId } : {}),
    links: links(j.id),
  };
}

/** The full form of GET /jobs/{id}. */
export function jobDetail(j: JobRecord) {
  const s = j.status;
  const quality = s.metrics && (s.metrics.vmaf || s.metrics.psnr || s.metrics.ssim)
    ? { ...(s.metrics.vmaf ? { vmaf: s.metrics.vmaf.mean } : {}), ...(s.metrics.psnr ? { psnr: s.metrics.psnr.mean } : {}), ...(s.metrics.ssim ? { ssim: s.metrics.ssim.mean } : {}) }
    : undefined;
  return {
    ...jobSummary(j),
    fps: s.fps ?? null,
    speed: s.speed ?? null,
    eta_seconds: s.etaSeconds ?? null,
    started_at: s.startedAt ?? null,
    completed_at: s.completedAt ?? null,
    updated_at: j.updatedAt,
    attempts: s.attempts ?? 0,
    input: j.spec.input.path,
    output: j.spec.output?.path ?? j.spec.stream?.path ?? j.spec.analyze?.path ?? null,
    progress_details: { percentage: s.progress ?? 0, stage: isTerminal(s.phase) ? s.phase : (s.stage ?? s.phase), fps: s.fps ?? null, ...(quality ? { quality } : {}) },
    outputs: s.outputs ?? [],
    metrics: s.metrics ?? null,
    acceleration: s.acceleration ?? null,
    error: s.error ?? null,
    ...(s.chunks ? { chunks: s.chunks } : {}),
    ...(s.chunking ? { chunking: s.chunking } : {}),
    ...(s.verification ? { verification: s.verification } : {}),
    ...(s.quality ? { quality: s.quality } : {}),
    spec: j.spec,
  };
}
