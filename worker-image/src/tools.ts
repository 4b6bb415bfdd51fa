// Which FFmpeg binaries to run. FFMPEG_PATH/FFPROBE_PATH choose the main ones; metrics that need
// libvmaf may use a second build when the main one lacks it: KUBEFF_VMAF_FFMPEG_PATH, else the
// FFmpeg 9 with libvmaf 3 that scripts/fetch-vmaf-ffmpeg.sh keeps in the cache, else the 2018
// static build shipped by the @ffmpeg-installer/linux-x64 package (libvmaf 1.3.7, 6× slower).
// Probes of local files run the static ffprobe of @ffprobe-installer/linux-x64 when FFPROBE_PATH
// names none: Debian's ffprobe is linked against ~200 shared libraries and spends ~55 ms starting
// before it reads a byte; the static one answers a probe in ~13 ms, and a job probes two or three
// times. Network inputs keep the system's ffprobe (a static glibc resolves names badly).
import { createRequire } from 'node:module';
import { accessSync, constants, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** Where scripts/fetch-vmaf-ffmpeg.sh puts its FFmpeg (keep the version in step with it). */
export function cachedVmafFfmpeg(env: NodeJS.ProcessEnv = process.env): string {
  return join(env['KUBEFF_CACHE'] || join(env['HOME'] || homedir(), '.cache', 'kubeff'), 'bin', 'ffmpeg-vmaf-9.0.2', 'ffmpeg');
}

export interface Tools {
  ffmpeg: string;
  /** ffprobe for any input, network ones included. */
  ffprobe: string;
  /** A faster ffprobe for local files, when one is installed and FFPROBE_PATH chooses none. */
  fileProbe?: string | undefined;
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
  const ffprobe = env['FFPROBE_PATH'] || 'ffprobe';
  const fileProbe = env['KUBEFF_FILE_FFPROBE_PATH'] || (env['FFPROBE_PATH'] ? undefined : bundledStaticFfprobe());
  return { ffmpeg, ffprobe, fileProbe, vmafCandidates: [...new Set(candidates)] };
}

let staticFfprobe: string | null | undefined;
function bundledStaticFfprobe(): string | undefined {
  if (staticFfprobe === undefined) {
    staticFfprobe = null;
    try {
      const bin = join(dirname(createRequire(import.meta.url).resolve('@ffprobe-installer/linux-x64/package.json')), 'ffprobe');
      accessSync(bin, constants.X_OK);
      staticFfprobe = bin;
    } catch {
      // Not installed (the worker image has its own FFmpeg build), or not executable here.
    }
  }
  return staticFfprobe ?? undefined;
}

let staticFfmpeg: string | null | undefined;
function bundledStaticFfmpeg(): string | undefined {
  if (staticFfmpeg === undefined) {
    staticFfmpeg = null;
    try {
      const bin = join(dirname(createRequire(import.meta.url).resolve('@ffmpeg-installer/linux-x64/package.json')), 'ffmpeg');
      if (existsSync(bin)) staticFfmpeg = bin;
    } catch {
      // not installed
    }
  }
  return staticFfmpeg ?? undefined;
}
