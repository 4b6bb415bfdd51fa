// Which FFmpeg binaries to run. FFMPEG_PATH/FFPROBE_PATH choose the main ones; metrics that need
// libvmaf may use a second build (KUBEFF_VMAF_FFMPEG_PATH, or the static build shipped by the
// @ffmpeg-installer/linux-x64 package) when the main one lacks it.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface Tools {
  ffmpeg: string;
  ffprobe: string;
  /** Candidate FFmpeg builds for VMAF, best first; the capability probe picks one that has libvmaf. */
  vmafCandidates: string[];
}

export function toolsFromEnv(env: NodeJS.ProcessEnv = process.env): Tools {
  const ffmpeg = env['FFMPEG_PATH'] || 'ffmpeg';
  const candidates = [ffmpeg];
  if (env['KUBEFF_VMAF_FFMPEG_PATH']) candidates.unshift(env['KUBEFF_VMAF_FFMPEG_PATH']);
  const bundled = bundledStaticFfmpeg();
  if (bundled) candidates.push(bundled);
  return { ffmpeg, ffprobe: env['FFPROBE_PATH'] || 'ffprobe', vmafCandidates: [...new Set(candidates)] };
}

function bundledStaticFfmpeg(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const pkg = require.resolve('@ffmpeg-installer/linux-x64/package.json');
    const bin = join(dirname(pkg), 'ffmpeg');
    return existsSync(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
}
