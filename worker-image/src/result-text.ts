// The result as it is written out. A pod's termination message holds at most 4096 bytes, so a
// result with many outputs (a 100-image thumbnail series) keeps its first outputs and says how
// many it left out, rather than being cut mid-JSON by the kubelet.
import type { WorkerResult } from '@kubeff/crds';

export const TerminationMessageLimit = 4096;

export function resultText(result: WorkerResult, limit = TerminationMessageLimit): string {
  const full = JSON.stringify(result);
  if (Buffer.byteLength(full) <= limit) return full;
  const outputs = [...result.outputs];
  let omitted = 0;
  for (;;) {
    const compact = JSON.stringify({ ...result, outputs, ...(omitted ? { outputsOmitted: omitted } : {}) });
    if (Buffer.byteLength(compact) <= limit || outputs.length === 0) return compact;
    outputs.pop();
    omitted++;
  }
}
