// Which FFmpeg binaries to run. FFMPEG_PATH/FFPROBE_PATH choose the main ones; metrics that need
// libvmaf may use a second build when the main one lacks it: KUBEFF_VMAF_FFMPEG_PATH, else the
// FFmpeg 9 with libvmaf 3 that scripts/fetch-vmaf-ffmpeg.sh keeps in the cache, else the 2018
// static build shipped by the @ffmpeg-installer/linux-x64 package (libvmaf 1.3.7, 6× slower).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** Where scripts/fetch-vmaf-ffmpeg.sh puts its FFmpeg (keep the version in step with it). */
export function cachedVmafFfmpeg(env: NodeJS.ProcessEnv = process.env): string {
  return join(env['KUBEFF_CACHE'] || join(env['HOME'] || homedir(), '.cache', 'kubeff'), 'bin', 'ffmpeg-vmaf-9.0.2', 'ffmpeg');
}

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
  const cached = cachedVmafFfmpeg(env);
  if (existsSync(cached)) candidates.push(cached);
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
