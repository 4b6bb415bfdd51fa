// Pure decision: where to decode and encode, from the request and what really works here.
// Data-center GPUs (A100, H100, H200) have NVDEC but no NVENC: "auto" then decodes on the GPU
// and encodes on the CPU instead of failing.
import type { Acceleration } from '@kubeff/crds';

export interface AccelerationInput {
  requested: 'auto' | 'none' | 'nvenc';
  /** The NVENC encoder that would replace the CPU encoder for the output codec, if one exists. */
  nvencEncoder: string | undefined;
  workingNvenc: ReadonlySet<string>;
  nvdec: boolean;
  /** Whether the input's codec can be decoded by NVDEC (h264, hevc, vp9, av1, mpeg2...). */
  inputDecodableOnGpu: boolean;
  gpuNote: string;
}

export type AccelerationDecision = { ok: true; acceleration: Acceleration } | { ok: false; message: string };

export function decideAcceleration(i: AccelerationInput): AccelerationDecision {
  if (i.requested === 'none') return { ok: true, acceleration: { decode: 'cpu', encode: 'cpu', reason: 'hardware acceleration disabled by request' } };
  const nvencWorks = i.nvencEncoder !== undefined && i.workingNvenc.has(i.nvencEncoder);
  const nvdecWorks = i.nvdec && i.inputDecodableOnGpu;
  if (i.requested === 'nvenc') {
    if (!nvencWorks) {
      const why = i.nvencEncoder === undefined ? 'the output codec has no NVENC encoder' : i.gpuNote;
      return { ok: false, message: `hardware_acceleration 'nvenc' was requested but NVENC cannot be used here: ${why}` };
    }
    return { ok: true, acceleration: { decode: nvdecWorks ? 'nvdec' : 'cpu', encode: 'nvenc', reason: `NVENC requested; ${i.gpuNote}` } };
  }
  const decode = nvdecWorks ? 'nvdec' : 'cpu';
  const encode = nvencWorks ? 'nvenc' : 'cpu';
  const reason = decode === 'cpu' && encode === 'cpu' ? `auto: CPU (${i.gpuNote || 'no GPU'})` : `auto: ${i.gpuNote}`;
  return { ok: true, acceleration: { decode, encode, reason } };
}

export const nvdecCodecs = new Set(['h264', 'hevc', 'vp8', 'vp9', 'av1', 'mpeg1video', 'mpeg2video', 'mpeg4', 'vc1', 'mjpeg']);
