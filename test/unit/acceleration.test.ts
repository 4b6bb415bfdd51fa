// Where a job decodes and encodes, from what was requested and what really works on this node.
import { describe, expect, it } from 'vitest';
import { decideAcceleration, nvdecCodecs, type AccelerationInput } from '../../worker-image/src/acceleration.ts';

type Requested = AccelerationInput['requested'];

/** A node as the capability probe would describe it. */
interface Node {
  name: string;
  nvencWorks: boolean;
  nvdecWorks: boolean;
  gpuNote: string;
}

const nodes: Node[] = [
  { name: 'a consumer GPU (NVENC and NVDEC work)', nvencWorks: true, nvdecWorks: true, gpuNote: 'NVENC works (h264_nvenc, hevc_nvenc); NVDEC works' },
  { name: 'a data-center GPU (NVDEC only)', nvencWorks: false, nvdecWorks: true, gpuNote: 'NVENC unavailable on this GPU; NVDEC works' },
  { name: 'a GPU whose decoder fails (NVENC only)', nvencWorks: true, nvdecWorks: false, gpuNote: 'NVENC works (h264_nvenc); NVDEC unavailable' },
  { name: 'a CPU-only node', nvencWorks: false, nvdecWorks: false, gpuNote: 'no NVIDIA device is present' },
];

function input(req: Requested, node: Node, decodable: boolean, over: Partial<AccelerationInput> = {}): AccelerationInput {
  return {
    requested: req,
    nvencEncoder: 'h264_nvenc',
    workingNvenc: new Set(node.nvencWorks ? ['h264_nvenc', 'hevc_nvenc'] : []),
    nvdec: node.nvdecWorks,
    inputDecodableOnGpu: decodable,
    gpuNote: node.gpuNote,
    ...over,
  };
}

/** The expected outcome, written out independently of the implementation. */
function expected(req: Requested, node: Node, decodable: boolean): { decode: string; encode: string } | 'error' {
  if (req === 'none') return { decode: 'cpu', encode: 'cpu' };
  if (req === 'nvenc' && !node.nvencWorks) return 'error';
  return { decode: node.nvdecWorks && decodable ? 'nvdec' : 'cpu', encode: node.nvencWorks ? 'nvenc' : 'cpu' };
}

const table = (['auto', 'none', 'nvenc'] as const).flatMap((req) =>
  nodes.flatMap((node) => [true, false].map((decodable) => ({ req, node, decodable, want: expected(req, node, decodable) }))),
);

describe('decideAcceleration', () => {
  it.each(table)('requested $req on $node.name, input decodable on GPU: $decodable → $want', ({ req, node, decodable, want }) => {
    const d = decideAcceleration(input(req, node, decodable));
    if (want === 'error') {
      expect(d.ok, 'an impossible NVENC request must be refused, not silently run on the CPU').toBe(false);
      return;
    }
    if (!d.ok) throw new Error(`expected a decision, got the error: ${d.message}`);
    expect({ decode: d.acceleration.decode, encode: d.acceleration.encode }).toEqual(want);
    expect(d.acceleration.reason.length, 'every decision explains itself').toBeGreaterThan(0);
  });

  it('decodes on the GPU and encodes on the CPU under auto on a data-center GPU (A100/H100: NVDEC, no NVENC)', () => {
    const d = decideAcceleration(input('auto', nodes[1] as Node, true));
    expect(d).toEqual({ ok: true, acceleration: { decode: 'nvdec', encode: 'cpu', reason: expect.stringContaining('NVDEC works') } });
  });

  it('refuses nvenc on a data-center GPU with a message that says why', () => {
    const d = decideAcceleration(input('nvenc', nodes[1] as Node, true));
    if (d.ok) throw new Error('nvenc without a working NVENC encoder must not be accepted');
    expect(d.message).toContain("hardware_acceleration 'nvenc' was requested but NVENC cannot be used here");
    expect(d.message, 'the probe note explains the refusal').toContain('NVENC unavailable on this GPU');
  });

  it('refuses nvenc for a codec with no NVENC encoder (e.g. vp9), naming that reason', () => {
    const d = decideAcceleration(input('nvenc', nodes[0] as Node, true, { nvencEncoder: undefined }));
    if (d.ok) throw new Error('vp9 has no NVENC encoder; the request must be refused');
    expect(d.message).toContain('the output codec has no NVENC encoder');
  });

  it('refuses nvenc when the working encoders do not include the one this codec needs', () => {
    const d = decideAcceleration(input('nvenc', nodes[0] as Node, true, { nvencEncoder: 'av1_nvenc' }));
    expect(d.ok, 'av1_nvenc is not among the encoders that worked').toBe(false);
  });

  describe("when FFmpeg lists h264_nvenc but no device is present", () => {
    const listedOnly = (req: Requested) =>
      decideAcceleration({
        requested: req,
        nvencEncoder: 'h264_nvenc',
        workingNvenc: new Set(),
        nvdec: false,
        inputDecodableOnGpu: true,
        gpuNote: 'FFmpeg lists h264_nvenc, hevc_nvenc but no NVIDIA device is present',
      });

    it('runs auto on the CPU and says why', () => {
      const d = listedOnly('auto');
      if (!d.ok) throw new Error(`auto must never fail: ${d.message}`);
      expect(d.acceleration).toMatchObject({ decode: 'cpu', encode: 'cpu' });
      expect(d.acceleration.reason).toBe('auto: CPU (FFmpeg lists h264_nvenc, hevc_nvenc but no NVIDIA device is present)');
    });

    it('refuses nvenc, quoting the probe note', () => {
      const d = listedOnly('nvenc');
      if (d.ok) throw new Error('a listed-but-unusable encoder must not be accepted');
      expect(d.message).toContain('no NVIDIA device is present');
    });
  });

  it("says 'no GPU' in the auto reason when the probe left no note", () => {
    const d = decideAcceleration(input('auto', { ...(nodes[3] as Node), gpuNote: '' }, true));
    if (!d.ok) throw new Error(d.message);
    expect(d.acceleration.reason).toBe('auto: CPU (no GPU)');
  });

  it('ignores every GPU fact when acceleration is disabled by request', () => {
    const d = decideAcceleration(input('none', nodes[0] as Node, true));
    expect(d).toEqual({ ok: true, acceleration: { decode: 'cpu', encode: 'cpu', reason: 'hardware acceleration disabled by request' } });
  });
});

describe('nvdecCodecs', () => {
  it.each(['h264', 'hevc', 'vp9', 'av1', 'mpeg2video'])('lists %s (ffprobe codec name) as decodable on the GPU', (codec) => {
    expect(nvdecCodecs.has(codec)).toBe(true);
  });
  it.each(['prores', 'dnxhd', 'gif', 'png', 'h265'])('does not list %s', (codec) => {
    expect(nvdecCodecs.has(codec), `${codec} is not an ffprobe name NVDEC decodes`).toBe(false);
  });
});
