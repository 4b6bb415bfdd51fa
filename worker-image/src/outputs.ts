// Staging and publishing of outputs: FFmpeg writes beside the final location under a private
// name, and only a finished output is renamed into place, so a failed or cancelled job never
// leaves a half-written file under the name the user asked for.
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { OutputFile } from '@kubeff/crds';
import { probe, type MediaInfo, type Prober } from './probe.ts';

// The process id keeps two attempts of one job apart (an orphaned worker cleaning up must never
// remove the files of the attempt that replaced it).
export function stagingFile(finalPath: string, jobId: string): string {
  return join(dirname(finalPath), `.kubeff-partial-${jobId}-${process.pid}-${basename(finalPath)}`);
}

export function stagingDir(finalDir: string, jobId: string): string {
  return join(dirname(finalDir), `.kubeff-partial-${jobId}-${process.pid}-${basename(finalDir)}`);
}

/** Moves a finished file into place (atomic on one filesystem). */
export async function publishFile(staging: string, finalPath: string): Promise<void> {
  await rename(staging, finalPath);
}

/**
 * Moves a finished folder into place. An existing folder is merged into, file by file, never
 * emptied first: a user who points a stream at a folder with other files keeps them.
 */
export async function publishDir(staging: string, finalDir: string): Promise<void> {
  try {
    await rename(staging, finalDir);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
  }
  for (const entry of await readdir(staging, { withFileTypes: true })) {
    const from = join(staging, entry.name);
    const to = join(finalDir, entry.name);
    if (entry.isDirectory()) {
      await mkdir(to, { recursive: true });
      await publishDir(from, to);
    } else {
      await rename(from, to);
    }
  }
  await rm(staging, { recursive: true, force: true });
}

export async function discard(path: string | undefined): Promise<void> {
  if (path) await rm(path, { recursive: true, force: true });
}

/**
 * Describes a media output: size, duration, codecs, resolution, bitrate. `probed` is the probe
 * verification made of this very file (staged, then renamed or uploaded unchanged); without it,
 * ffprobe runs here.
 */
export async function describeMedia(ffprobe: Prober, hostPath: string, storagePath: string, role: OutputFile['role'], probed?: MediaInfo): Promise<OutputFile> {
  const [info, st] = await Promise.all([probed ?? probe(ffprobe, hostPath, 'output'), stat(hostPath)]);
  const out: OutputFile = { path: storagePath, role, sizeBytes: st.size, format: info.formatName };
  if (info.durationSeconds > 0) out.durationSeconds = Number(info.durationSeconds.toFixed(3));
  if (info.bitrate !== undefined) out.bitrate = info.bitrate;
  if (info.video) {
    out.videoCodec = info.video.codec;
    out.width = info.video.width;
    out.height = info.video.height;
    if (info.video.fps > 0 && !info.isImage) out.fps = Number(info.video.fps.toFixed(3));
  }
  if (info.audio) out.audioCodec = info.audio.codec;
  return out;
}

export async function describeFile(hostPath: string, storagePath: string, role: OutputFile['role']): Promise<OutputFile> {
  const st = await stat(hostPath);
  return { path: storagePath, role, sizeBytes: st.size };
}
