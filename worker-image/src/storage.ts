// The storage layer of the worker and the gateway. Three kinds of location:
// - /storage/... paths map onto the storage root (a folder, or the cluster's shared volume), and
//   nothing may escape it, including through symlinks planted inside the root;
// - s3://bucket/key objects on a configured S3 backend (./storage/s3.ts): FFmpeg reads them
//   through presigned URLs, outputs are written to the job's scratch folder and uploaded with
//   streamed multipart uploads (folders whole, playlists last);
// - http(s):// URLs, inputs only: resolved and refused on private, loopback and link-local
//   addresses, redirects checked hop by hop (./net/http-input.ts), streamed into scratch.
// `input(location, field)` checks that an input exists (the gateway calls it before accepting a
// job); the worker opens inputs with `mediaInput` and writes outputs through `fileOutput` and
// `dirOutput`. Failures are JobFailures naming the field.
import { mkdir, mkdtemp, readdir, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, extname, join, relative, resolve, isAbsolute } from 'node:path';
import { locationKind, parseS3, s3Location, StoragePrefix, stripTrailingSlash, type S3Object } from '@kubeff/crds';
import { ExitCode } from './exit-codes.ts';
import { JobFailure } from './failure.ts';
import { AllowPrivateSetting, checkHttpInputReachable, defaultHttpPolicy, downloadHttpInput, HttpInputError, shownUrl, type HttpInputPolicy } from './net/http-input.ts';
import { publishDir, publishFile, stagingDir, stagingFile } from './outputs.ts';
import { NetworkInputFormats, type MediaInput } from './plan/types.ts';
import { probe, type MediaInfo, type Prober } from './probe.ts';
import { S3Backends, S3Error, s3BackendsFromEnv, type S3Backend, type S3BackendConfig } from './storage/s3.ts';

export interface StorageOptions {
  /** S3 backends (KUBEFF_S3_*); none: s3:// locations are refused with a clear error. */
  s3?: S3Backends | readonly S3BackendConfig[] | undefined;
  /** HTTP(S) input policy (KUBEFF_HTTP_*). */
  http?: Partial<HttpInputPolicy> | undefined;
  /** How long a presigned URL handed to FFmpeg for an S3 input stays valid. Default 12 h. */
  inputUrlSeconds?: number | undefined;
}

function envInt(env: NodeJS.ProcessEnv, name: string, min: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be a whole number >= ${min}, got '${raw}'`);
  return n;
}

/**
 * Storage options from the environment: the S3 backends (KUBEFF_S3_*), and for HTTP(S) inputs
 * KUBEFF_HTTP_ALLOW_PRIVATE, KUBEFF_HTTP_INPUT_MAX_BYTES, KUBEFF_HTTP_INPUT_TIMEOUT_SECONDS; and
 * KUBEFF_S3_INPUT_URL_SECONDS. Throws on a bad value, naming the variable.
 */
export function storageOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): StorageOptions {
  const http: Partial<HttpInputPolicy> = { allowPrivate: /^(1|true|yes|on)$/i.test(env[AllowPrivateSetting] ?? '') };
  const maxBytes = envInt(env, 'KUBEFF_HTTP_INPUT_MAX_BYTES', 1);
  if (maxBytes !== undefined) http.maxBytes = maxBytes;
  const timeout = envInt(env, 'KUBEFF_HTTP_INPUT_TIMEOUT_SECONDS', 1);
  if (timeout !== undefined) http.totalTimeoutMs = timeout * 1000;
  return { s3: s3BackendsFromEnv(env), http, inputUrlSeconds: envInt(env, 'KUBEFF_S3_INPUT_URL_SECONDS', 60) };
}

/** A storage with the root and the options from the environment (the worker's, and the gateway's). */
export function storageFromEnv(root: string, env: NodeJS.ProcessEnv = process.env): Storage {
  return new Storage(root, storageOptionsFromEnv(env));
}

/** Where a single-file output is written, and how it is published. */
export interface FileTarget {
  /** Host path FFmpeg writes to. */
  staging: string;
  /** The output's location as reported: a /storage/... path or s3://bucket/key. */
  location: string;
  /** A host path with the finished bytes, for describing them after publish (valid until the job's scratch is removed). */
  described: string;
  publish(signal?: AbortSignal): Promise<void>;
}

/** Where a multi-file output (a folder) is written, and how it is published. */
export interface DirTarget {
  /** Host folder FFmpeg writes into. */
  staging: string;
  /** The folder's location as reported, without a trailing slash. */
  location: string;
  locationOf(name: string): string;
  /** A host path of a finished file, for describing it after publish. */
  described(name: string): string;
  publish(signal?: AbortSignal): Promise<void>;
}

const contentTypes: Record<string, string> = {
  '.mp4': 'video/mp4', '.m4v': 'video/mp4', '.m4a': 'audio/mp4', '.m4s': 'video/iso.segment', '.mov': 'video/quicktime',
  '.mkv': 'video/x-matroska', '.webm': 'video/webm', '.ts': 'video/mp2t', '.gif': 'image/gif', '.mp3': 'audio/mpeg',
  '.wav': 'audio/wav', '.flac': 'audio/flac', '.ogg': 'audio/ogg', '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg',
  '.webp': 'image/webp', '.m3u8': 'application/vnd.apple.mpegurl', '.mpd': 'application/dash+xml', '.vtt': 'text/vtt', '.json': 'application/json',
};

export function contentTypeOf(name: string): string | undefined {
  return contentTypes[extname(name).toLowerCase()];
}

const isPlaylist = (name: string) => /\.(m3u8|mpd)$/i.test(name);
const uploadConcurrency = 4;

export class Storage {
  readonly root: string;
  readonly s3: S3Backends;
  readonly http: HttpInputPolicy;
  readonly inputUrlSeconds: number;

  constructor(root: string, opts: StorageOptions = {}) {
    this.root = resolve(root);
    this.s3 = opts.s3 instanceof S3Backends ? opts.s3 : new S3Backends(opts.s3 ?? []);
    this.http = { ...defaultHttpPolicy, ...dropUndefinedKeys(opts.http ?? {}) };
    this.inputUrlSeconds = opts.inputUrlSeconds ?? 12 * 3600;
  }

  // -------------------------------------------------------------------------------------------
  // Local paths

  /** The host path of a /storage/... path, checked lexically (no I/O). */
  hostPath(storagePath: string, field: string): string {
    if (!storagePath.startsWith(StoragePrefix)) {
      throw new JobFailure('INVALID_INPUT', ExitCode.invalidSpec, `must be a path under ${StoragePrefix}`, field);
    }
    const host = resolve(this.root, storagePath.slice(StoragePrefix.length));
    this.assertInside(host, field);
    return host;
  }

  private rootResolved: string | undefined;
  /** The root with symlinks followed, resolved once it exists (every input check compares against it). */
  private async realRoot(): Promise<string> {
    return (this.rootResolved ??= await realpath(this.root));
  }

  /** The /storage/... path of a host path inside the root. */
  storagePath(hostPath: string): string {
    return StoragePrefix + relative(this.root, hostPath).split('\\').join('/');
  }

  /**
   * Checks that an input exists and may be read, and says where it is: for a /storage/... path its
   * real host path (symlinks followed, inside the root); for an S3 object or a URL the location
   * itself, after checking the object exists (HEAD) or the URL answers (a one-byte GET to a checked
   * public address). Throws a JobFailure naming `field`.
   */
  async input(location: string, field: string): Promise<string> {
    const kind = locationKind(location);
    if (kind === 's3') {
      await this.s3Call(location, field, 'input', (b, o) => b.head(o));
      return location;
    }
    if (kind === 'http') {
      await this.httpCall(location, field, () => checkHttpInputReachable(location, this.http));
      return location;
    }
    const host = this.hostPath(location, field);
    let real: string;
    try {
      real = await realpath(host);
    } catch {
      throw JobFailure.invalidInput(`file not found: ${location}`, field);
    }
    this.assertInside(real, field, await this.realRoot());
    return real;
  }

  /**
   * An output location (local): its parent folder is created and must resolve inside the root.
   * The output itself (a file, or a folder) is not created here: a job that fails leaves nothing
   * at the path it was asked to write.
   */
  async output(storagePath: string, field: string, opts: { isDir?: boolean } = {}): Promise<string> {
    if (locationKind(storagePath) !== 'local') {
      throw new JobFailure('INVALID_OUTPUT', ExitCode.invalidSpec, 'is not a /storage/ path (S3 outputs are written through fileOutput or dirOutput)', field);
    }
    const host = this.hostPath(storagePath, field);
    const dir = dirname(host);
    await mkdir(dir, { recursive: true });
    const realDir = await realpath(dir);
    // The file (or folder) itself must be inside the root; its parent may be the root. A folder
    // that exists already (outputs are merged into it) must not lead out of the root either.
    let target = join(realDir, host.slice(dir.length + 1));
    if (opts.isDir) target = await realpath(target).catch(() => target);
    this.assertInside(target, field, await this.realRoot());
    return target;
  }

  /**
   * Checks that an output can be written: for S3, that a backend serves the bucket, the bucket
   * exists and the credentials are accepted. Local paths are checked lexically.
   */
  async checkOutput(location: string, field: string): Promise<void> {
    if (locationKind(location) === 's3') {
      await this.s3Call(location, field, 'output', (b, o) => b.checkBucket(o));
      return;
    }
    if (locationKind(location) === 'http') throw new JobFailure('INVALID_OUTPUT', ExitCode.invalidSpec, 'outputs cannot be URLs', field);
    this.hostPath(location, field);
  }

  // -------------------------------------------------------------------------------------------
  // Inputs for FFmpeg

  /**
   * Opens an input for FFmpeg. A storage path: its checked real path (`-protocol_whitelist file`).
   * An S3 object: a presigned URL to the configured endpoint, behind a whitelist of exactly its
   * protocols and of media demuxers. A URL: streamed into `scratch` first, so FFmpeg never connects
   * anywhere a client chose. `secrets` collects URLs to redact from logs.
   */
  async mediaInput(location: string, field: string, scratch: string, opts: { signal?: AbortSignal | undefined; secrets?: Map<string, string> } = {}): Promise<{ input: MediaInput | string; downloadedBytes?: number }> {
    const kind = locationKind(location);
    if (kind === 'local') return { input: await this.input(location, field) };
    if (kind === 's3') {
      const url = await this.s3Call(location, field, 'input', async (b, o) => {
        await b.head(o);
        return b.presignGet(o, this.inputUrlSeconds);
      });
      opts.secrets?.set(url, location);
      return { input: this.networkInput(url) };
    }
    await mkdir(scratch, { recursive: true });
    const file = join(await mkdtemp(join(scratch, 'input-')), `source${safeExt(new URL(location).pathname)}`);
    const { bytes } = await this.httpCall(location, field, () => downloadHttpInput(location, file, this.http, opts.signal));
    return { input: file, downloadedBytes: bytes };
  }

  /** How FFmpeg opens a presigned URL: only its own protocols, media demuxers, reconnecting. */
  private networkInput(url: string): MediaInput {
    const secure = url.startsWith('https:');
    return { url, protocols: secure ? 'https,tls,tcp' : 'http,tcp', formats: NetworkInputFormats, options: ['-reconnect', '1', '-reconnect_delay_max', '10'] };
  }

  /**
   * Probes an input wherever it is (for estimates): a storage path or an S3 object directly, a
   * URL after streaming it into a temporary folder (FFmpeg never fetches a client's URL itself).
   */
  async probe(location: string, field: string, ffprobe: Prober): Promise<MediaInfo> {
    const kind = locationKind(location);
    if (kind === 'http') {
      const scratch = await mkdtemp(join(tmpdir(), 'kubeff-probe-'));
      try {
        const { input } = await this.mediaInput(location, field, scratch);
        return await probe(ffprobe, input, field);
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    }
    const { input } = await this.mediaInput(location, field, '');
    return probe(ffprobe, input, field);
  }

  // -------------------------------------------------------------------------------------------
  // Outputs

  /**
   * A single-file output. Local: staged beside its final place under a private name, renamed when
   * finished. S3: staged in `scratch`, uploaded (streamed multipart) when finished.
   */
  async fileOutput(location: string, field: string, jobId: string, scratch: string): Promise<FileTarget> {
    if (locationKind(location) === 's3') {
      const backend = this.s3For(location, field, 'output');
      const obj = parseS3(location);
      const dir = await mkdtemp(join(scratch, 'output-'));
      // A fixed name: FFmpeg's image muxer would expand '%' patterns in the key.
      const staging = join(dir, `output${safeExt(obj.key)}`);
      return {
        staging,
        location,
        described: staging,
        publish: (signal) => this.s3Call(location, field, 'output', (b, o) => b.uploadFile(staging, o, { contentType: contentTypeOf(o.key), signal }), backend),
      };
    }
    const finalPath = await this.output(location, field);
    const staging = stagingFile(finalPath, jobId);
    return { staging, location: this.storagePath(finalPath), described: finalPath, publish: () => publishFile(staging, finalPath) };
  }

  /** A folder output (streams, thumbnail series, grids, metrics): published whole. */
  async dirOutput(location: string, field: string, jobId: string, scratch: string): Promise<DirTarget> {
    if (locationKind(location) === 's3') {
      const backend = this.s3For(location, field, 'output');
      const base = parseS3(stripTrailingSlash(location));
      const staging = join(await mkdtemp(join(scratch, 'output-')), 'dir');
      await mkdir(staging, { recursive: true });
      return {
        staging,
        location: s3Location(base),
        locationOf: (name) => s3Location(under(base, name)),
        described: (name) => join(staging, name),
        publish: (signal) => this.uploadDir(backend, staging, base, field, signal),
      };
    }
    const finalDir = await this.output(location, field, { isDir: true });
    const staging = stagingDir(finalDir, jobId);
    await mkdir(staging, { recursive: true });
    const shown = this.storagePath(finalDir);
    return {
      staging,
      location: shown,
      locationOf: (name) => `${shown}/${name}`,
      described: (name) => join(finalDir, name),
      publish: () => publishDir(staging, finalDir),
    };
  }

  /**
   * Uploads a folder under a key prefix: media first, then playlists from the deepest up (variant
   * playlists before the master), so a reader who sees a playlist finds everything it names.
   */
  private async uploadDir(backend: S3Backend, staging: string, base: S3Object, field: string, signal?: AbortSignal): Promise<void> {
    const names = await listFiles(staging);
    const depth = (n: string) => n.split('/').length;
    const media = names.filter((n) => !isPlaylist(n));
    const playlists = names.filter(isPlaylist).sort((a, b) => depth(b) - depth(a) || a.localeCompare(b));
    const put = (name: string) => {
      const o = under(base, name);
      return this.s3Call(s3Location(o), field, 'output', (b) => b.uploadFile(join(staging, name), o, { contentType: contentTypeOf(name), signal }), backend);
    };
    await eachLimited(media, uploadConcurrency, put);
    for (const p of playlists) await put(p);
  }

  /** A presigned download URL for an S3 location. */
  async presignDownload(location: string, seconds: number, field = 'path'): Promise<string> {
    const name = parseS3(location).key.split('/').pop();
    return this.s3Call(location, field, 'output', (b, o) => b.presignGet(o, seconds, name ? { filename: name } : {}));
  }

  // -------------------------------------------------------------------------------------------
  // Failures in the job's terms

  /** The backend serving an S3 location, or a JobFailure naming the field. */
  s3For(location: string, field: string, role: 'input' | 'output'): S3Backend {
    try {
      return this.s3.forBucket(parseS3(location).bucket);
    } catch (err) {
      throw this.s3Failure(err, field, role);
    }
  }

  async s3Call<T>(location: string, field: string, role: 'input' | 'output', fn: (b: S3Backend, o: S3Object) => Promise<T>, backend?: S3Backend): Promise<T> {
    const b = backend ?? this.s3For(location, field, role);
    try {
      return await fn(b, parseS3(location));
    } catch (err) {
      throw this.s3Failure(err, field, role);
    }
  }

  private s3Failure(err: unknown, field: string, role: 'input' | 'output'): JobFailure {
    if (err instanceof JobFailure) return err;
    if (!(err instanceof S3Error)) throw err;
    const code = role === 'input' ? 'INVALID_INPUT' : 'INVALID_OUTPUT';
    if (err.kind === 'unavailable') return new JobFailure('PROCESSING_FAILED', ExitCode.transient, err.message, field);
    // Missing objects, refused credentials, unknown buckets: retrying the job cannot help.
    return new JobFailure(code, ExitCode.invalidInput, err.message, field);
  }

  private async httpCall<T>(location: string, field: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof HttpInputError)) throw err;
      const msg = `${shownUrl(location)}: ${err.message}`;
      if (err.kind === 'unavailable') throw new JobFailure('PROCESSING_FAILED', ExitCode.transient, msg, field);
      throw JobFailure.invalidInput(msg, field);
    }
  }

  private assertInside(p: string, field: string, root = this.root): void {
    const rel = relative(root, p);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
      throw new JobFailure('INVALID_INPUT', ExitCode.invalidSpec, 'resolves outside the storage root', field);
    }
  }
}

/** The name it always had: gateway code and tests construct `new LocalStorage(root)`. */
export { Storage as LocalStorage };

/** The object `name` inside a folder prefix (the bucket's top when the prefix is empty). */
function under(base: S3Object, name: string): S3Object {
  return { bucket: base.bucket, key: base.key ? `${base.key}/${name}` : name };
}

function dropUndefinedKeys<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** A plain extension (for staging names), or none. */
function safeExt(name: string): string {
  const ext = extname(name);
  return /^\.[A-Za-z0-9]{1,8}$/.test(ext) ? ext.toLowerCase() : '';
}

/** Every file under a folder, as relative names with '/'. */
async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(join(dir, e.name), rel)));
    else if (e.isFile()) out.push(rel);
  }
  return out.sort();
}

async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (next < items.length && failed === undefined) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
}
