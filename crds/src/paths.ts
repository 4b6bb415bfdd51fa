// Checks on user-supplied storage paths, made before anything touches a disk or FFmpeg.
// The worker re-checks the resolved real path (symlinks) inside its storage root.
import type { ErrorCode } from './errors.ts';
import type { Fields } from './fields.ts';
import { Limits } from './spec.ts';

export const StoragePrefix = '/storage/';

const schemeRe = /^([A-Za-z][A-Za-z0-9+.-]*):/;

export function checkStoragePath(
  f: Fields,
  v: unknown,
  field: string,
  code: ErrorCode,
): string | undefined {
  const s = f.string(v, field, code, { max: Limits.maxPathLength });
  if (s === undefined) return undefined;
  // Control characters would let a name smuggle a second line into logs or a playlist.
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(s)) return f.add(code, field, 'must not contain control characters', { value: s });
  const scheme = schemeRe.exec(s);
  if (scheme) {
    return f.add(code, field, `the '${scheme[1]}:' scheme is not supported; use a path under ${StoragePrefix}`, {
      value: s,
      suggestion: `upload the file with POST /api/v1/files and refer to it as ${StoragePrefix}...`,
    });
  }
  if (!s.startsWith(StoragePrefix)) {
    return f.add(code, field, `must be a path under ${StoragePrefix}`, { value: s, suggestion: `e.g. ${StoragePrefix}input/video.mp4` });
  }
  const segments = s.slice(StoragePrefix.length).split('/');
  if (segments.some((seg) => seg === '..' || seg === '.')) {
    return f.add(code, field, "must not contain '.' or '..' segments", { value: s });
  }
  // FFmpeg's muxers (image sequences, HLS) expand '%' patterns in file names.
  if (s.includes('%')) return f.add(code, field, "must not contain '%'", { value: s });
  const clean = s.replace(/\/{2,}/g, '/');
  if (clean.length <= StoragePrefix.length) return f.add(code, field, 'must name a file or folder inside storage', { value: s });
  return clean;
}

export function stripTrailingSlash(p: string): string {
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}
