// What this FFmpeg build can do AND what this machine can do with it. A build that lists
// h264_nvenc proves nothing about the GPU: NVENC and NVDEC are each tried for real.
import { createHash } from 'node:crypto';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { execFile } from './exec.ts';

export interface Capabilities {
  ffmpeg: string;
  version: string;
  encoders: Set<string>;
  filters: Set<string>;
  hwaccels: Set<string>;
  /** Whether the -stats_period option exists (FFmpeg 4.4+). */
  statsPeriod: boolean;
  /** NVENC encoders that really encoded a frame here. */
  workingNvenc: Set<string>;
  /** Whether CUDA decoding (NVDEC) really decoded a frame here. */
  nvdec: boolean;
  /** Why GPU use is or is not possible, for job status. */
  gpuNote: string;
}

/** Pure: names from `ffmpeg -encoders` / `-filters` listings (a flags column, then the name). */
export function parseListing(text: string, kind: 'encoders' | 'filters'): Set<string> {
  const names = new Set<string>();
  const re = kind === 'encoders' ? /^\s[VAS][F.][S.][X.][B.][D.]\s+(?!=\s)(\S+)/ : /^\s[T.][S.][C.]?\s+(\S+)\s+\S+->\S+/;
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (m?.[1]) names.add(m[1]);
  }
  return names;
}

export function parseHwaccels(text: string): Set<string> {
  const lines = text.split('\n').map((l) => l.trim());
  const start = lines.findIndex((l) => l.startsWith('Hardware acceleration methods'));
  return new Set(start < 0 ? [] : lines.slice(start + 1).filter((l) => /^[a-z0-9_]+$/.test(l)));
}

/** libvmaf option style: 1.x takes model_path=, 2.x takes model=version=. */
export type VmafStyle = 'model_path' | 'model';
export function parseVmafStyle(help: string): VmafStyle | undefined {
  if (/^\s+model\s+<string>/m.test(help)) return 'model';
  if (/^\s+model_path\s+<string>/m.test(help)) return 'model_path';
  return undefined;
}

/** A quick look for a GPU before paying for test encodes: device nodes or the driver library. */
function gpuDevicePresent(): boolean {
  return existsSync('/dev/nvidiactl') || existsSync('/dev/nvidia0') || existsSync('/proc/driver/nvidia/version');
}

const cache = new Map<string, Promise<Capabilities>>();

export function capabilities(ffmpeg: string): Promise<Capabilities> {
  let c = cache.get(ffmpeg);
  if (!c) {
    c = detect(ffmpeg);
    cache.set(ffmpeg, c);
    c.catch(() => cache.delete(ffmpeg));
  }
  return c;
}

interface BuildFacts {
  version: string;
  encoders: string[];
  filters: string[];
  hwaccels: string[];
  statsPeriod: boolean;
}

/** The binary's real path, so a cache entry follows the file and not the name on PATH. */
function resolveBinary(ffmpeg: string): string | undefined {
  const candidates = ffmpeg.includes('/') ? [ffmpeg] : (process.env['PATH'] ?? '').split(delimiter).map((d) => join(d, ffmpeg));
  for (const c of candidates) {
    try {
      return realpathSync(c);
    } catch {
      // not in this PATH entry
    }
  }
  return undefined;
}

/**
 * What the build lists is fixed for a given binary, so it is cached on disk keyed by the binary's
 * path, size and mtime: a job then starts without five FFmpeg runs. What the GPU can do is never
 * cached; it is tried again in every process that finds a device.
 */
async function buildFacts(ffmpeg: string): Promise<BuildFacts> {
  const real = resolveBinary(ffmpeg);
  let cacheFile: string | undefined;
  if (real) {
    const st = statSync(real);
    const key = createHash('sha256').update(`${real}\0${st.size}\0${st.mtimeMs}`).digest('hex').slice(0, 24);
    cacheFile = join(process.env['KUBEFF_CACHE_DIR'] || join(tmpdir(), 'kubeff-cache'), `ffmpeg-${key}.json`);
    try {
      return JSON.parse(await readFile(cacheFile, 'utf8')) as BuildFacts;
    } catch {
      // not cached yet, or unreadable: detect below
    }
  }
  const [ver, enc, fil, hw, help] = await Promise.all(
    [['-version'], ['-hide_banner', '-encoders'], ['-hide_banner', '-filters'], ['-hide_banner', '-hwaccels'], ['-hide_banner', '-h', 'long']].map((a) =>
      execFile(ffmpeg, a, { timeoutMs: 20_000 }),
    ),
  );
  if (!ver || ver.code !== 0) throw new Error(`cannot run FFmpeg at '${ffmpeg}'`);
  const facts: BuildFacts = {
    version: /ffmpeg version (\S+)/.exec(ver.stdout)?.[1] ?? 'unknown',
    encoders: [...parseListing(enc?.stdout ?? '', 'encoders')],
    filters: [...parseListing(fil?.stdout ?? '', 'filters')],
    hwaccels: [...parseHwaccels(hw?.stdout ?? '')],
    statsPeriod: /^-stats_period\b/m.test(help?.stdout ?? ''),
  };
  if (cacheFile) {
    // Written whole then renamed, so a concurrent reader never sees half a file.
    await mkdir(dirname(cacheFile), { recursive: true }).catch(() => undefined);
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(facts)).then(() => rename(tmp, cacheFile), () => undefined).catch(() => undefined);
  }
  return facts;
}

async function detect(ffmpeg: string): Promise<Capabilities> {
  const facts = await buildFacts(ffmpeg);
  const caps: Capabilities = {
    ffmpeg,
    version: facts.version,
    encoders: new Set(facts.encoders),
    filters: new Set(facts.filters),
    hwaccels: new Set(facts.hwaccels),
    statsPeriod: facts.statsPeriod,
    workingNvenc: new Set(),
    nvdec: false,
    gpuNote: '',
  };
  const nvencListed = [...caps.encoders].filter((e) => e.endsWith('_nvenc'));
  if (!gpuDevicePresent()) {
    caps.gpuNote = nvencListed.length ? `FFmpeg lists ${nvencListed.join(', ')} but no NVIDIA device is present` : 'no NVIDIA device is present';
    return caps;
  }
  await testGpu(caps, nvencListed);
  return caps;
}

/** Encodes and decodes a few frames on the GPU; only what really works counts. */
async function testGpu(caps: Capabilities, nvencListed: string[]): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kubeff-gpu-'));
  try {
    for (const enc of nvencListed) {
      const r = await execFile(caps.ffmpeg, ['-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=0.2', '-c:v', enc, '-f', 'null', '-'], { timeoutMs: 30_000 });
      if (r.code === 0) caps.workingNvenc.add(enc);
    }
    if (caps.hwaccels.has('cuda')) {
      // A CPU-encoded sample, then a CUDA decode whose frames must be downloaded from the GPU:
      // hwdownload fails if FFmpeg silently fell back to software decoding.
      const sample = join(dir, 'sample.mp4');
      const made = await execFile(caps.ffmpeg, ['-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=0.4', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', sample], { timeoutMs: 30_000 });
      if (made.code === 0) {
        const r = await execFile(caps.ffmpeg, ['-hide_banner', '-v', 'error', '-hwaccel', 'cuda', '-hwaccel_output_format', 'cuda', '-i', sample, '-vf', 'hwdownload,format=nv12', '-f', 'null', '-'], { timeoutMs: 30_000 });
        caps.nvdec = r.code === 0;
      }
    }
    const parts = [
      caps.workingNvenc.size ? `NVENC works (${[...caps.workingNvenc].join(', ')})` : 'NVENC unavailable on this GPU',
      caps.nvdec ? 'NVDEC works' : 'NVDEC unavailable',
    ];
    caps.gpuNote = parts.join('; ');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function vmafStyle(ffmpeg: string): Promise<VmafStyle | undefined> {
  const r = await execFile(ffmpeg, ['-hide_banner', '-h', 'filter=libvmaf'], { timeoutMs: 20_000 }).catch(() => undefined);
  return r && r.code === 0 ? parseVmafStyle(r.stdout) : undefined;
}
