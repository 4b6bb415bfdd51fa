// Checks on user-supplied locations, made before anything touches a disk, a network or FFmpeg.
// A location is a path under the storage root (/storage/...), an S3 object (s3://bucket/key), or,
// for inputs only, an http(s) URL. The worker re-checks the resolved real path (symlinks) inside
// its storage root; URLs are resolved and refused on private addresses by the storage layer
// (worker-image/src/storage.ts), which needs DNS and configuration, so not here.
import type { ErrorCode } from './errors.ts';
import type { Fields } from './fields.ts';
import { Limits } from './spec.ts';

export const StoragePrefix = '/storage/';
export const S3Prefix = 's3://';
/** The folder under the storage root kept for kubeff's working files (split jobs' chunks). */
export const ReservedFolder = '.kubeff';

const schemeRe = /^([A-Za-z][A-Za-z0-9+.-]*):/;
// Control characters would let a name smuggle a second line into logs or a playlist.
const controlRe = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
// S3's rules for bucket names (lower case, digits, dots and hyphens, 3 to 63 characters).
const bucketRe = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export type LocationKind = 'local' | 's3' | 'http';

/** What kind of location a (checked) string is. */
export function locationKind(s: string): LocationKind {
  if (s.startsWith(S3Prefix)) return 's3';
  if (/^https?:\/\//i.test(s)) return 'http';
  return 'local';
}

export interface S3Object {
  bucket: string;
  /** The object key (or, for folders, the key prefix without its trailing slash). */
  key: string;
}

/** Splits a checked s3:// location into bucket and key. */
export function parseS3(s: string): S3Object {
  const rest = s.slice(S3Prefix.length);
  const slash = rest.indexOf('/');
  return slash < 0 ? { bucket: rest, key: '' } : { bucket: rest.slice(0, slash), key: rest.slice(slash + 1) };
}

export function s3Location(o: S3Object): string {
  return `${S3Prefix}${o.bucket}/${o.key}`;
}

export function checkStoragePath(
  f: Fields,
  v: unknown,
  field: string,
  code: ErrorCode,
): string | undefined {
  const s = f.string(v, field, code, { max: Limits.maxPathLength });
  if (s === undefined) return undefined;
  if (controlRe.test(s)) return f.add(code, field, 'must not contain control characters', { value: s });
  const scheme = schemeRe.exec(s);
  if (scheme) {
    return f.add(code, field, `the '${scheme[1]}:' scheme is not supported here; use a path under ${StoragePrefix}`, {
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
  // kubeff's own working files (chunks of split jobs) live there; no job may read or write them.
  if (segments[0] === ReservedFolder) return f.add(code, field, `must not be under ${StoragePrefix}${ReservedFolder}/, which kubeff keeps for its own working files`, { value: s });
  // FFmpeg's muxers (image sequences, HLS) expand '%' patterns in file names.
  if (s.includes('%')) return f.add(code, field, "must not contain '%'", { value: s });
  const clean = s.replace(/\/{2,}/g, '/');
  if (clean.length <= StoragePrefix.length) return f.add(code, field, 'must name a file or folder inside storage', { value: s });
  return clean;
}

/** An s3://bucket/key location; the key may end with '/' (a folder), which is kept. */
export function checkS3Location(f: Fields, s: string, field: string, code: ErrorCode): string | undefined {
  if (s.length > Limits.maxPathLength) return f.add(code, field, `must be at most ${Limits.maxPathLength} characters`, { value: s.slice(0, 64) });
  if (controlRe.test(s)) return f.add(code, field, 'must not contain control characters', { value: s });
  const { bucket, key } = parseS3(s);
  if (!bucketRe.test(bucket) || bucket.includes('..')) {
    return f.add(code, field, `'${bucket}' is not a valid S3 bucket name (3 to 63 lower-case letters, digits, '.' and '-')`, { value: s, suggestion: 'e.g. s3://my-bucket/input/video.mp4' });
  }
  if (key === '' || key === '/') return f.add(code, field, 'must name an object inside the bucket', { value: s, suggestion: `e.g. s3://${bucket}/input/video.mp4` });
  if (key.startsWith('/')) return f.add(code, field, "the key must not start with '/'", { value: s });
  const segments = (key.endsWith('/') ? key.slice(0, -1) : key).split('/');
  if (segments.some((seg) => seg === '' || seg === '..' || seg === '.')) {
    return f.add(code, field, "must not contain empty, '.' or '..' segments", { value: s });
  }
  if (new TextEncoder().encode(key).length > 1024) return f.add(code, field, 'the key must be at most 1024 bytes', { value: s.slice(0, 64) });
  return s;
}

/** An http(s) URL for an input: well formed, with a host and without credentials. */
export function checkHttpUrl(f: Fields, s: string, field: string, code: ErrorCode): string | undefined {
  if (s.length > Limits.maxUrlLength) return f.add(code, field, `must be at most ${Limits.maxUrlLength} characters`, { value: s.slice(0, 64) });
  if (controlRe.test(s) || /\s/.test(s)) return f.add(code, field, 'must not contain spaces or control characters', { value: s });
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return f.add(code, field, 'is not a valid URL', { value: s });
  }
  if (!url.hostname) return f.add(code, field, 'has no host', { value: s });
  if (url.username || url.password) {
    return f.add(code, field, 'must not contain credentials (user:password@)', { value: '<redacted>', suggestion: 'use a presigned URL or a token in the query string' });
  }
  return s;
}

/** A job input: a storage path, an S3 object or an http(s) URL. */
export function checkInputLocation(f: Fields, v: unknown, field: string, code: ErrorCode): string | undefined {
  const s = f.string(v, field, code, { max: Limits.maxUrlLength });
  if (s === undefined) return undefined;
  if (s.startsWith(S3Prefix)) return checkS3Location(f, s, field, code);
  if (/^https?:\/\//i.test(s)) return checkHttpUrl(f, s, field, code);
  const scheme = schemeRe.exec(s);
  if (scheme) {
    return f.add(code, field, `the '${scheme[1]}:' scheme is not supported; use a path under ${StoragePrefix}, s3://bucket/key or an http(s) URL`, {
      value: s,
      suggestion: `upload the file with POST /api/v1/files and refer to it as ${StoragePrefix}...`,
    });
  }
  return checkStoragePath(f, s, field, code);
}

/** A job output: a storage path or an S3 location (never a URL: outputs are written, not fetched). */
export function checkOutputLocation(f: Fields, v: unknown, field: string, code: ErrorCode): string | undefined {
  const s = f.string(v, field, code, { max: Limits.maxPathLength });
  if (s === undefined) return undefined;
  if (s.startsWith(S3Prefix)) return checkS3Location(f, s, field, code);
  if (/^https?:\/\//i.test(s)) {
    return f.add(code, field, `outputs cannot be URLs; write to ${StoragePrefix}... or s3://bucket/key`, { value: s, suggestion: 'ask for a presigned download URL with options.presign_outputs' });
  }
  return checkStoragePath(f, s, field, code);
}

export function stripTrailingSlash(p: string): string {
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}
