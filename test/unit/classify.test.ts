// How a failed FFmpeg run is classified: invalid input (never retried), a missing capability
// (never retried here), or a transient failure (retried).
import { describe, expect, it } from 'vitest';
import { ExitCode, NonRetryableExitCodes } from '../../worker-image/src/exit-codes.ts';
import { JobFailure } from '../../worker-image/src/failure.ts';
import { classify } from '../../worker-image/src/runner.ts';

/** A stderr tail as FFmpeg leaves it: banner-ish lines, then the problem, then the summary. */
function tail(...problem: string[]): string[] {
  return [
    "Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'file:/data/storage/in/video.mp4':",
    '  Duration: 00:00:10.00, start: 0.000000, bitrate: 400 kb/s',
    '  Stream #0:0(und): Video: h264 (High) (avc1 / 0x31637661), yuv420p, 320x240, 308 kb/s, 25 fps',
    ...problem,
  ];
}

describe('classify', () => {
  it.each([
    ['a file that is not media', ['file:/data/storage/in/junk.mp4: Invalid data found when processing input']],
    ['an MP4 without its moov atom', ['[mov,mp4,m4a,3gp,3g2,mj2 @ 0x564ecb643840] moov atom not found', 'file:/data/storage/in/cut.mp4: Invalid data found when processing input']],
    ['a stream FFmpeg cannot read parameters of', ['[mpegts @ 0x55] Could not find codec parameters for stream 0 (Video: h264, none): unspecified size']],
    ['an input without streams', ['file:/data/storage/in/empty.mkv: does not contain any stream']],
    ['a map that matches nothing', ['Stream specifier \':a:0\' in filtergraph description [0:a:0]anull[aout] matches no streams.']],
    ['a decoding error', ['Error while decoding stream #0:0: Invalid data found when processing input']],
    ['corrupt frames', ['[h264 @ 0x5600] corrupt decoded frame in stream 0', 'Conversion failed!']],
  ])('reports %s as INVALID_INPUT with exit code 65', (_name, lines) => {
    const f = classify(1, null, tail(...lines));
    expect(f).toBeInstanceOf(JobFailure);
    expect({ code: f.code, exitCode: f.exitCode, field: f.field }).toEqual({ code: 'INVALID_INPUT', exitCode: ExitCode.invalidInput, field: 'input' });
    expect(f.retryable, 'bad input must never be retried').toBe(false);
    expect(NonRetryableExitCodes).toContain(f.exitCode);
  });

  it('keeps host paths out of the message', () => {
    const f = classify(1, null, tail('file:/data/storage/in/junk.mp4: Invalid data found when processing input'));
    expect(f.message).toContain('Invalid data found when processing input');
    expect(f.message, 'the host path of the input leaked into the job status').not.toContain('/data/storage');
  });

  it.each([
    ['an unknown encoder', ["Unknown encoder 'libsvtav1'"]],
    ['an encoder that is not found', ['Encoder libfdk_aac not found.']],
    ['a missing filter', ["[AVFilterGraph @ 0x55] No such filter: 'libvmaf'", 'Error initializing complex filters.']],
    ['a library that cannot be loaded', ['[h264_nvenc @ 0x55] Cannot load libnvidia-encode.so.1', 'Error while opening encoder for output stream #0:0']],
    ['no NVENC device', ['[h264_nvenc @ 0x55] No NVENC capable devices found', 'Error initializing output stream 0:0 -- Error while opening encoder']],
  ])('reports %s as UNSUPPORTED_CAPABILITY with exit code 69', (_name, lines) => {
    const f = classify(1, null, tail(...lines));
    expect({ code: f.code, exitCode: f.exitCode }).toEqual({ code: 'UNSUPPORTED_CAPABILITY', exitCode: ExitCode.unavailable });
    expect(f.retryable, 'a missing capability is not retried on the same node').toBe(false);
    expect(f.message).toContain('FFmpeg lacks what the job needs');
  });

  it.each(['SIGKILL', 'SIGSEGV', 'SIGTERM'] as const)('reports FFmpeg killed by %s as a transient failure (75), whatever stderr says', (sig) => {
    const f = classify(null, sig, tail('file:/data/storage/in/junk.mp4: Invalid data found when processing input'));
    expect({ code: f.code, exitCode: f.exitCode }).toEqual({ code: 'PROCESSING_FAILED', exitCode: ExitCode.transient });
    expect(f.message).toBe(`FFmpeg was killed by ${sig}`);
    expect(f.retryable).toBe(true);
  });

  it.each([
    ['a full disk', ['[mp4 @ 0x55] Error writing trailer: No space left on device', 'Conversion failed!']],
    ['an unknown failure', ['Conversion failed!']],
    ['an empty stderr', []],
    ['a missing file (the worker checks existence before FFmpeg)', ['file:/data/storage/in/gone.mp4: No such file or directory']],
  ])('reports %s as a transient failure (75) that is retried', (_name, lines) => {
    const f = classify(1, null, tail(...lines));
    expect({ code: f.code, exitCode: f.exitCode }).toEqual({ code: 'PROCESSING_FAILED', exitCode: ExitCode.transient });
    expect(f.retryable).toBe(true);
    expect(f.message).toContain('FFmpeg failed with exit code 1');
  });

  it('quotes the last error line, without the [component @ address] prefix', () => {
    const f = classify(1, null, tail('[mp4 @ 0x55d0] Error writing trailer: No space left on device', 'Conversion failed!'));
    expect(f.message).toBe('FFmpeg failed with exit code 1: Conversion failed!');
    const g = classify(1, null, tail('[mp4 @ 0x55d0] Error writing trailer: No space left on device'));
    expect(g.message).toBe('FFmpeg failed with exit code 1: Error writing trailer: No space left on device');
  });

  it('only looks at the last 40 lines for the kind of problem', () => {
    const old = 'file:/data/storage/in/a.mp4: Invalid data found when processing input';
    const lines = [old, ...Array.from({ length: 40 }, (_, i) => `frame=${i} fps=25 q=28.0 size=1kB time=00:00:0${i % 10}.00 bitrate=1kbits/s speed=1x`)];
    expect(classify(1, null, lines).exitCode, 'a warning long before the failure does not make the input invalid').toBe(ExitCode.transient);
  });

  it('keeps messages short', () => {
    const f = classify(1, null, [`Error: ${'x'.repeat(2000)}`]);
    expect(f.message.length).toBeLessThan(400);
  });
});
