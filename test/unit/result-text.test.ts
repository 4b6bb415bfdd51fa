import { describe, expect, it } from 'vitest';
import { resultText } from '../../worker-image/src/result-text.ts';
import type { WorkerResult } from '../../crds/src/status.ts';

const output = (i: number) => ({ path: `/storage/thumbs/thumb_${String(i).padStart(4, '0')}.jpg`, role: 'image' as const, sizeBytes: 12_345, width: 320, height: 240, videoCodec: 'mjpeg', format: 'image2' });

describe('resultText', () => {
  it('writes a small result whole', () => {
    const r: WorkerResult = { status: 'completed', outputs: [output(1)], processingSeconds: 1 };
    expect(JSON.parse(resultText(r))).toEqual(r);
  });

  it('fits a 100-output result into a 4 KiB termination message, saying how many it left out', () => {
    const r: WorkerResult = { status: 'completed', outputs: Array.from({ length: 100 }, (_, i) => output(i + 1)), processingSeconds: 3 };
    const text = resultText(r);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4096);
    const parsed = JSON.parse(text) as WorkerResult;
    expect(parsed.outputs.length + (parsed.outputsOmitted ?? 0)).toBe(100);
    expect(parsed.outputs[0]).toEqual(output(1));
    expect(parsed.status).toBe('completed');
  });
});
