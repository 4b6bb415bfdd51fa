// An FFMPEG_PATH (and FFPROBE_PATH) that records every invocation before running the real tool,
// to prove that a refused input never reached FFmpeg.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toolsFromEnv, type Tools } from '../../worker-image/src/tools.ts';
import { ffmpegBin, ffprobeBin } from './media.ts';

export interface ToolSpy {
  tools: Tools;
  /** FFmpeg runs of a job's steps (the capability probes left out): those reporting progress. */
  ffmpegCalls(): string[];
  ffprobeCalls(): string[];
  /** Every argument of every call, of both tools. */
  allArgs(): string;
}

export function toolSpy(dir: string): ToolSpy {
  const script = (name: string, real: string) => {
    const log = join(dir, `${name}-calls.log`);
    const path = join(dir, `${name}-spy.sh`);
    writeFileSync(path, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec '${real}' "$@"\n`);
    chmodSync(path, 0o755);
    writeFileSync(log, '');
    return { path, read: () => readFileSync(log, 'utf8').split('\n').filter(Boolean) };
  };
  const ffmpeg = script('ffmpeg', ffmpegBin);
  const ffprobe = script('ffprobe', ffprobeBin);
  return {
    tools: { ...toolsFromEnv(), ffmpeg: ffmpeg.path, ffprobe: ffprobe.path, vmafCandidates: [ffmpeg.path] },
    ffmpegCalls: () => ffmpeg.read().filter((l) => l.includes('-progress pipe:1')),
    ffprobeCalls: () => ffprobe.read(),
    allArgs: () => [...ffmpeg.read(), ...ffprobe.read()].join('\n'),
  };
}
