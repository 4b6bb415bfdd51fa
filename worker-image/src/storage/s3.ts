// S3-compatible object storage, configured per named backend (endpoint, region, path style,
// credentials, the buckets it serves). A job names only s3://bucket/key; the backend is chosen by
// the bucket, so credentials never travel in a job spec, and no message or log line carries them.
// Reads are streamed or handed to FFmpeg as presigned URLs; writes are streamed multipart uploads
// (a few parts in memory at most, whatever the object's size).
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { s3Location, type S3Object } from '@kubeff/crds';

/**
 * The AWS SDK, loaded on first use: a job or a gateway without S3 never pays for it (it doubles
 * the worker's start time and adds 15 MiB).
 */
interface Sdk {
  s3: typeof import('@aws-sdk/client-s3');
  storage: typeof import('@aws-sdk/lib-storage');
  presigner: typeof import('@aws-sdk/s3-request-presigner');
}
let sdk: Promise<Sdk> | undefined;
function loadSdk(): Promise<Sdk> {
  // The SDK is CommonJS: run from sources its exports are named; from the split bundle, where it
  // is a chunk loaded on demand, they sit under `default`.
  const named = <T extends object>(m: T): T => ('default' in m && m.default && typeof m.default === 'object' && !('S3Client' in m || 'Upload' in m || 'getSignedUrl' in m) ? (m.default as T) : m);
  sdk ??= Promise.all([import('@aws-sdk/client-s3'), import('@aws-sdk/lib-storage'), import('@aws-sdk/s3-request-presigner')]).then(([s3, storage, presigner]) => ({ s3: named(s3), storage: named(storage), presigner: named(presigner) }));
  return sdk;
}

export interface S3BackendConfig {
  /** `default`, or a name from KUBEFF_S3_BACKENDS. */
  name: string;
  /** Empty for AWS itself; e.g. http://minio.storage:9000 for an S3-compatible server. */
  endpoint: string | undefined;
  region: string;
  forcePathStyle: boolean;
  /** Static keys; without them the AWS SDK's default chain (env, web identity, instance role). */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  /** Buckets served; `*` for any bucket no other backend names (default backend only). */
  buckets: readonly string[] | '*';
}

const bucketListRe = /^[a-z0-9*][a-z0-9.*-]*$/;

function bool(v: string | undefined): boolean | undefined {
  if (v === undefined || v === '') return undefined;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new Error(`expected true or false, got '${v}'`);
}

/**
 * S3 backends from the environment (see the README, "Storage: S3 and HTTP inputs"):
 * KUBEFF_S3_{ENDPOINT,REGION,FORCE_PATH_STYLE,ACCESS_KEY_ID,SECRET_ACCESS_KEY,SESSION_TOKEN,BUCKETS}
 * for the default backend, and the same with KUBEFF_S3_<NAME>_ for each name in
 * KUBEFF_S3_BACKENDS. Throws on an inconsistent configuration, naming the variable (never a value
 * of a secret).
 */
export function s3BackendsFromEnv(env: NodeJS.ProcessEnv): S3BackendConfig[] {
  const out: S3BackendConfig[] = [];
  const read = (name: string, prefix: string, required: boolean): S3BackendConfig | undefined => {
    const v = (k: string) => {
      const x = env[`${prefix}${k}`];
      return x === undefined || x === '' ? undefined : x;
    };
    const keys = ['ENDPOINT', 'REGION', 'ACCESS_KEY_ID', 'SECRET_ACCESS_KEY', 'BUCKETS', 'FORCE_PATH_STYLE'];
    if (!required && keys.every((k) => v(k) === undefined)) return undefined;
    const endpoint = v('ENDPOINT');
    if (endpoint !== undefined) {
      let u: URL;
      try {
        u = new URL(endpoint);
      } catch {
        throw new Error(`${prefix}ENDPOINT must be a URL such as https://s3.example.com`);
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`${prefix}ENDPOINT must be an http(s) URL`);
      if (u.username || u.password) throw new Error(`${prefix}ENDPOINT must not contain credentials; use ${prefix}ACCESS_KEY_ID and ${prefix}SECRET_ACCESS_KEY`);
    }
    const id = v('ACCESS_KEY_ID');
    const secret = v('SECRET_ACCESS_KEY');
    if ((id === undefined) !== (secret === undefined)) throw new Error(`${prefix}ACCESS_KEY_ID and ${prefix}SECRET_ACCESS_KEY must be set together`);
    const rawBuckets = v('BUCKETS');
    const buckets = rawBuckets === undefined ? (name === 'default' ? '*' : undefined) : rawBuckets.split(',').map((b) => b.trim()).filter(Boolean);
    if (buckets === undefined || (Array.isArray(buckets) && buckets.length === 0)) throw new Error(`${prefix}BUCKETS must list the buckets backend '${name}' serves`);
    if (Array.isArray(buckets)) for (const b of buckets) if (!bucketListRe.test(b)) throw new Error(`${prefix}BUCKETS: '${b}' is not a bucket name`);
    let forcePathStyle: boolean | undefined;
    try {
      forcePathStyle = bool(v('FORCE_PATH_STYLE'));
    } catch (err) {
      throw new Error(`${prefix}FORCE_PATH_STYLE: ${(err as Error).message}`);
    }
    const sessionToken = v('SESSION_TOKEN');
    return {
      name,
      endpoint,
      region: v('REGION') ?? 'us-east-1',
      // S3-compatible servers mostly want path-style addressing; AWS itself virtual-hosted.
      forcePathStyle: forcePathStyle ?? endpoint !== undefined,
      credentials: id !== undefined && secret !== undefined ? { accessKeyId: id, secretAccessKey: secret, ...(sessionToken ? { sessionToken } : {}) } : undefined,
      buckets: buckets === '*' || (Array.isArray(buckets) && buckets.includes('*')) ? '*' : buckets,
    };
  };
  const def = read('default', 'KUBEFF_S3_', false);
  if (def) out.push(def);
  for (const raw of (env['KUBEFF_S3_BACKENDS'] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!/^[a-z][a-z0-9_]{0,31}$/.test(raw) || raw === 'default') throw new Error(`KUBEFF_S3_BACKENDS: '${raw}' is not a backend name (lower-case letters, digits and _)`);
    const b = read(raw, `KUBEFF_S3_${raw.toUpperCase()}_`, true);
    if (b) out.push(b);
  }
  return out;
}

/**
 * Why an S3 operation failed, in the storage layer's terms. `missing`: no such object or bucket;
 * `denied`: the backend refused the server's credentials or their permissions; `unconfigured`: no
 * backend serves the bucket; `unavailable`: network, 5xx, throttling (may work later).
 */
export class S3Error extends Error {
  readonly kind: 'missing' | 'denied' | 'unconfigured' | 'unavailable' | 'invalid';
  readonly status: number | undefined;
  constructor(kind: S3Error['kind'], message: string, status?: number) {
    super(message);
    this.name = 'S3Error';
    this.kind = kind;
    this.status = status;
  }
}

interface SdkError {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** An SDK error as an S3Error about `what` (a location), without the SDK's internals. */
export function s3ErrorOf(err: unknown, backend: string, what: string): S3Error {
  if (err instanceof S3Error) return err;
  const e = (err ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  const code = e.Code ?? e.name ?? e.code ?? 'Error';
  // A HEAD answer has no body, so the SDK knows only the status.
  const shown = ['Forbidden', 'Unknown', 'UnknownError', 'BadRequest'].includes(code) && status !== undefined ? `HTTP ${status}` : code;
  if (e.name === 'AbortError') return new S3Error('unavailable', `aborted: ${what}`);
  if (code === 'NoSuchBucket') return new S3Error('missing', `bucket of ${what} does not exist (S3 storage '${backend}')`, status);
  if (code === 'NoSuchKey' || code === 'NotFound' || status === 404) return new S3Error('missing', `object not found: ${what}`, status ?? 404);
  if (['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'Forbidden', 'InvalidToken', 'ExpiredToken', 'AllAccessDisabled'].includes(code) || status === 403 || status === 401) {
    return new S3Error('denied', `S3 storage '${backend}' refused access to ${what} (${shown}): the server's credentials for this bucket are wrong or lack permission`, status);
  }
  if (status === 412) return new S3Error('invalid', `${what} changed while it was being read`, status);
  if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429) return new S3Error('invalid', `S3 storage '${backend}' refused the request for ${what} (${shown})`, status);
  const why = status !== undefined ? (shown.startsWith('HTTP') ? shown : `HTTP ${status} ${shown}`) : (e.code ?? e.message ?? String(err)).slice(0, 200);
  return new S3Error('unavailable', `S3 storage '${backend}' is unavailable for ${what}: ${why}`, status);
}

export interface ObjectHead {
  sizeBytes: number;
  etag: string | undefined;
  lastModified: Date | undefined;
  contentType: string | undefined;
}

export interface UploadOptions {
  contentType?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Bytes per part (at least 5 MiB, S3's minimum) and parts in flight: memory is about their product. */
  partBytes?: number | undefined;
  queueSize?: number | undefined;
}

/** Multipart sizes by default: parts of 8 MiB, 4 in flight: about 40 MiB of buffers per upload at most. */
export const UploadPartBytes = 8 * 1024 * 1024;
export const UploadQueueSize = 4;
/** The smallest part S3 accepts (all but the last); 10,000 of them make 48 GiB. */
export const MinPartBytes = 5 * 1024 * 1024;
const maxSingleCopyBytes = 5 * 1024 ** 3;
const copyPartBytes = 512 * 1024 ** 2;

/** One configured backend with its client (made on first use). */
export class S3Backend {
  readonly config: S3BackendConfig;
  private made: Promise<{ client: S3Client; sdk: Sdk }> | undefined;
  constructor(config: S3BackendConfig) {
    this.config = config;
  }

  private api(): Promise<{ client: S3Client; sdk: Sdk }> {
    const config = this.config;
    this.made ??= loadSdk().then((sdk) => ({
      sdk,
      client: new sdk.s3.S3Client({
        region: config.region,
        ...(config.endpoint ? { endpoint: config.endpoint } : {}),
        forcePathStyle: config.forcePathStyle,
        ...(config.credentials ? { credentials: config.credentials } : {}),
        // S3-compatible servers do not all know the newer default checksums.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        maxAttempts: 3,
        requestHandler: { connectionTimeout: 10_000, requestTimeout: 300_000 },
      }),
    }));
    return this.made;
  }

  get name(): string {
    return this.config.name;
  }

  /** Whether FFmpeg reads this backend over TLS (https) or plain http. */
  get secure(): boolean {
    return !this.config.endpoint || this.config.endpoint.startsWith('https:');
  }

  private async call<T>(what: S3Object, fn: (client: S3Client, sdk: Sdk) => Promise<T>): Promise<T> {
    const { client, sdk } = await this.api();
    try {
      return await fn(client, sdk);
    } catch (err) {
      throw s3ErrorOf(err, this.name, s3Location(what));
    }
  }

  async head(o: S3Object): Promise<ObjectHead> {
    const r = await this.call(o, (c, { s3 }) => c.send(new s3.HeadObjectCommand({ Bucket: o.bucket, Key: o.key })));
    return { sizeBytes: r.ContentLength ?? 0, etag: r.ETag, lastModified: r.LastModified, contentType: r.ContentType };
  }

  /**
   * The object's head, or undefined when it does not exist. (A HEAD answer has no body: a missing
   * bucket looks the same, and shows up as NoSuchBucket on the next write.)
   */
  async headIfExists(o: S3Object): Promise<ObjectHead | undefined> {
    try {
      return await this.head(o);
    } catch (err) {
      if (err instanceof S3Error && err.kind === 'missing') return undefined;
      throw err;
    }
  }

  /** Checks that the bucket exists and the credentials are accepted. */
  async checkBucket(o: S3Object): Promise<void> {
    await this.call({ bucket: o.bucket, key: '' }, (c, { s3 }) => c.send(new s3.HeadBucketCommand({ Bucket: o.bucket }))).catch((err: unknown) => {
      if (err instanceof S3Error && err.kind === 'missing') throw new S3Error('missing', `bucket '${o.bucket}' does not exist (S3 storage '${this.name}')`, err.status);
      throw err;
    });
  }

  /** A presigned GET URL; signing is local (no request is made). */
  async presignGet(o: S3Object, seconds: number, opts: { filename?: string } = {}): Promise<string> {
    return this.call(o, (c, { s3, presigner }) =>
      presigner.getSignedUrl(c, new s3.GetObjectCommand({
        Bucket: o.bucket,
        Key: o.key,
        ...(opts.filename ? { ResponseContentDisposition: `attachment; filename="${opts.filename.replace(/[^A-Za-z0-9._-]/g, '_')}"` } : {}),
      }), { expiresIn: seconds }),
    );
  }

  /** Streams an object (or a byte range of it); `ifMatch` makes sure the bytes are of that version. */
  async get(o: S3Object, opts: { range?: { start: number; end: number } | undefined; ifMatch?: string | undefined; signal?: AbortSignal | undefined } = {}): Promise<{ body: Readable; head: ObjectHead }> {
    const r = await this.call(o, (c, { s3 }) =>
      c.send(new s3.GetObjectCommand({
        Bucket: o.bucket,
        Key: o.key,
        ...(opts.range ? { Range: `bytes=${opts.range.start}-${opts.range.end}` } : {}),
        ...(opts.ifMatch ? { IfMatch: opts.ifMatch } : {}),
      }), opts.signal ? { abortSignal: opts.signal } : {}),
    );
    return { body: r.Body as Readable, head: { sizeBytes: r.ContentLength ?? 0, etag: r.ETag, lastModified: r.LastModified, contentType: r.ContentType } };
  }

  /** Streams a body into an object with a multipart upload (a single PUT when it is small). */
  async upload(body: Readable, o: S3Object, opts: UploadOptions = {}): Promise<void> {
    const { client, sdk } = await this.api();
    const up = new sdk.storage.Upload({
      client,
      params: { Bucket: o.bucket, Key: o.key, Body: body, ...(opts.contentType ? { ContentType: opts.contentType } : {}) },
      partSize: Math.max(MinPartBytes, opts.partBytes ?? UploadPartBytes),
      queueSize: opts.queueSize ?? UploadQueueSize,
      leavePartsOnError: false,
    });
    const onAbort = () => void up.abort().catch(() => undefined);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (opts.signal?.aborted) throw Object.assign(new Error('aborted'), { name: 'AbortError' });
      await this.call(o, () => up.done());
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  uploadFile(hostPath: string, o: S3Object, opts: UploadOptions = {}): Promise<void> {
    return this.upload(createReadStream(hostPath), o, opts);
  }

  /** Server-side copy (multipart past 5 GiB); no byte passes through this process. */
  async copy(from: S3Object, to: S3Object, sizeBytes: number, opts: { contentType?: string | undefined } = {}): Promise<void> {
    const source = `${from.bucket}/${encodeURIComponent(from.key).replace(/%2F/g, '/')}`;
    if (sizeBytes <= maxSingleCopyBytes) {
      await this.call(to, (c, { s3 }) => c.send(new s3.CopyObjectCommand({
        Bucket: to.bucket, Key: to.key, CopySource: source,
        ...(opts.contentType ? { ContentType: opts.contentType, MetadataDirective: 'REPLACE' } : {}),
      })));
      return;
    }
    const { client, sdk: { s3 } } = await this.api();
    const { UploadId } = await this.call(to, (c) => c.send(new s3.CreateMultipartUploadCommand({ Bucket: to.bucket, Key: to.key, ...(opts.contentType ? { ContentType: opts.contentType } : {}) })));
    try {
      const parts: { ETag: string; PartNumber: number }[] = [];
      for (let start = 0, n = 1; start < sizeBytes; start += copyPartBytes, n++) {
        const end = Math.min(sizeBytes, start + copyPartBytes) - 1;
        const r = await this.call(to, (c) => c.send(new s3.UploadPartCopyCommand({ Bucket: to.bucket, Key: to.key, UploadId, PartNumber: n, CopySource: source, CopySourceRange: `bytes=${start}-${end}` })));
        parts.push({ ETag: r.CopyPartResult?.ETag ?? '', PartNumber: n });
      }
      await this.call(to, (c) => c.send(new s3.CompleteMultipartUploadCommand({ Bucket: to.bucket, Key: to.key, UploadId, MultipartUpload: { Parts: parts } })));
    } catch (err) {
      await client.send(new s3.AbortMultipartUploadCommand({ Bucket: to.bucket, Key: to.key, UploadId })).catch(() => undefined);
      throw err;
    }
  }

  async delete(o: S3Object): Promise<void> {
    await this.call(o, (c, { s3 }) => c.send(new s3.DeleteObjectCommand({ Bucket: o.bucket, Key: o.key })));
  }
}

/** The configured backends, chosen by bucket. */
export class S3Backends {
  readonly backends: readonly S3Backend[];
  constructor(configs: readonly S3BackendConfig[]) {
    this.backends = configs.map((c) => new S3Backend(c));
  }

  get configured(): boolean {
    return this.backends.length > 0;
  }

  /** The backend serving a bucket: one that names it, else one serving every bucket. */
  forBucket(bucket: string): S3Backend {
    const named = this.backends.find((b) => b.config.buckets !== '*' && b.config.buckets.some((x) => x === bucket || (x.includes('*') && globMatch(x, bucket))));
    const any = this.backends.find((b) => b.config.buckets === '*');
    const b = named ?? any;
    if (!b) {
      throw new S3Error('unconfigured', this.backends.length === 0
        ? 'S3 storage is not configured on this server (KUBEFF_S3_ENDPOINT and credentials)'
        : `no S3 storage configured here serves bucket '${bucket}'`);
    }
    return b;
  }
}

function globMatch(pattern: string, s: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\-]/g, '\\$&')).join('.*')}$`);
  return re.test(s);
}
