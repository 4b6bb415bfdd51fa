// The storage layer's pure parts: S3 backends from the environment (named backends, buckets,
// errors that name the variable and never show a secret), the backend chosen by bucket, SDK
// errors in the job's terms, presigned-URL redaction, and FFmpeg arguments for network inputs.
import { describe, expect, it } from 'vitest';
import { fileInput, NetworkInputFormats } from '../../worker-image/src/plan/types.ts';
import { redactor, redactSecrets } from '../../worker-image/src/redact.ts';
import { storageOptionsFromEnv } from '../../worker-image/src/storage.ts';
import { S3Backends, s3BackendsFromEnv, s3ErrorOf } from '../../worker-image/src/storage/s3.ts';

const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

describe('S3 backends from the environment', () => {
  it('has none when nothing is set', () => {
    expect(s3BackendsFromEnv({})).toEqual([]);
  });

  it('reads the default backend, path-style for a custom endpoint, serving every bucket', () => {
    expect(s3BackendsFromEnv({ KUBEFF_S3_ENDPOINT: 'http://minio.storage:9000', KUBEFF_S3_ACCESS_KEY_ID: 'AKID', KUBEFF_S3_SECRET_ACCESS_KEY: secret })).toEqual([
      { name: 'default', endpoint: 'http://minio.storage:9000', region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'AKID', secretAccessKey: secret }, buckets: '*' },
    ]);
  });

  it('leaves AWS itself virtual-hosted and without keys uses the SDK default chain (IRSA, instance roles)', () => {
    expect(s3BackendsFromEnv({ KUBEFF_S3_REGION: 'eu-west-3' })).toEqual([
      { name: 'default', endpoint: undefined, region: 'eu-west-3', forcePathStyle: false, credentials: undefined, buckets: '*' },
    ]);
  });

  it('reads named backends, which must list their buckets', () => {
    const env = {
      KUBEFF_S3_ENDPOINT: 'https://s3.example.com', KUBEFF_S3_BUCKETS: 'media,outputs',
      KUBEFF_S3_BACKENDS: 'archive', KUBEFF_S3_ARCHIVE_ENDPOINT: 'https://archive.example.com', KUBEFF_S3_ARCHIVE_BUCKETS: 'cold-*',
      KUBEFF_S3_ARCHIVE_FORCE_PATH_STYLE: 'false', KUBEFF_S3_ARCHIVE_SESSION_TOKEN: 'tok', KUBEFF_S3_ARCHIVE_ACCESS_KEY_ID: 'A2', KUBEFF_S3_ARCHIVE_SECRET_ACCESS_KEY: 'S2',
    };
    const [def, archive] = s3BackendsFromEnv(env);
    expect(def?.buckets).toEqual(['media', 'outputs']);
    expect(archive).toMatchObject({ name: 'archive', endpoint: 'https://archive.example.com', forcePathStyle: false, buckets: ['cold-*'], credentials: { accessKeyId: 'A2', secretAccessKey: 'S2', sessionToken: 'tok' } });
    const backends = new S3Backends(s3BackendsFromEnv(env));
    expect(backends.forBucket('media').name).toBe('default');
    expect(backends.forBucket('cold-2024').name).toBe('archive');
    expect(() => backends.forBucket('elsewhere')).toThrow("no S3 storage configured here serves bucket 'elsewhere'");
    expect(() => new S3Backends([]).forBucket('media')).toThrow(/S3 storage is not configured on this server/);
  });

  it.each([
    [{ KUBEFF_S3_ACCESS_KEY_ID: 'AKID' }, 'KUBEFF_S3_ACCESS_KEY_ID and KUBEFF_S3_SECRET_ACCESS_KEY must be set together'],
    [{ KUBEFF_S3_SECRET_ACCESS_KEY: secret }, 'must be set together'],
    [{ KUBEFF_S3_ENDPOINT: 'minio:9000' }, 'KUBEFF_S3_ENDPOINT must be an http(s) URL'],
    [{ KUBEFF_S3_ENDPOINT: 'not a url' }, 'KUBEFF_S3_ENDPOINT must be a URL'],
    [{ KUBEFF_S3_ENDPOINT: `http://AKID:${encodeURIComponent(secret)}@minio:9000` }, 'KUBEFF_S3_ENDPOINT must not contain credentials'],
    [{ KUBEFF_S3_BACKENDS: 'archive', KUBEFF_S3_ARCHIVE_ENDPOINT: 'http://a:9000' }, 'KUBEFF_S3_ARCHIVE_BUCKETS must list the buckets'],
    [{ KUBEFF_S3_BACKENDS: 'Bad-Name' }, "KUBEFF_S3_BACKENDS: 'Bad-Name' is not a backend name"],
    [{ KUBEFF_S3_REGION: 'x', KUBEFF_S3_FORCE_PATH_STYLE: 'maybe' }, 'KUBEFF_S3_FORCE_PATH_STYLE: expected true or false'],
  ])('refuses %j, naming the variable and never a secret', (env, message) => {
    let err: Error | undefined;
    try {
      s3BackendsFromEnv(env);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toContain(message);
    expect(err?.message).not.toContain(secret);
    expect(err?.message).not.toContain(encodeURIComponent(secret));
  });

  it('reads the HTTP input policy and refuses bad numbers', () => {
    expect(storageOptionsFromEnv({ KUBEFF_HTTP_ALLOW_PRIVATE: 'true', KUBEFF_HTTP_INPUT_MAX_BYTES: '1048576', KUBEFF_HTTP_INPUT_TIMEOUT_SECONDS: '30', KUBEFF_S3_INPUT_URL_SECONDS: '600' })).toEqual({
      s3: [], http: { allowPrivate: true, maxBytes: 1048576, totalTimeoutMs: 30_000 }, inputUrlSeconds: 600,
    });
    expect(storageOptionsFromEnv({}).http).toEqual({ allowPrivate: false });
    expect(() => storageOptionsFromEnv({ KUBEFF_HTTP_INPUT_MAX_BYTES: '10GB' })).toThrow("KUBEFF_HTTP_INPUT_MAX_BYTES must be a whole number >= 1, got '10GB'");
  });
});

describe('S3 errors in the storage layer\'s terms', () => {
  const at = 's3://media/in/video.mp4';
  it.each([
    [{ name: 'NotFound', $metadata: { httpStatusCode: 404 } }, 'missing', 'object not found: s3://media/in/video.mp4'],
    [{ name: 'NoSuchKey', Code: 'NoSuchKey', $metadata: { httpStatusCode: 404 } }, 'missing', 'object not found'],
    [{ name: 'NoSuchBucket', Code: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } }, 'missing', "does not exist (S3 storage 'default')"],
    [{ name: 'SignatureDoesNotMatch', Code: 'SignatureDoesNotMatch', $metadata: { httpStatusCode: 403 } }, 'denied', "S3 storage 'default' refused access to s3://media/in/video.mp4 (SignatureDoesNotMatch)"],
    [{ name: 'Unknown', $metadata: { httpStatusCode: 403 } }, 'denied', '(HTTP 403)'],
    [{ name: 'InvalidAccessKeyId', $metadata: { httpStatusCode: 403 } }, 'denied', '(InvalidAccessKeyId)'],
    [{ name: 'SlowDown', $metadata: { httpStatusCode: 503 } }, 'unavailable', 'HTTP 503 SlowDown'],
    [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }), 'unavailable', 'ECONNREFUSED'],
  ])('maps %j to %s', (err, kind, message) => {
    const e = s3ErrorOf(err, 'default', at);
    expect(e.kind).toBe(kind);
    expect(e.message).toContain(message);
  });
});

describe('presigned URLs never reach a log line', () => {
  const url = 'http://127.0.0.1:9000/media/in/video.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=3600&X-Amz-Signature=0123456789abcdef0123456789abcdef&X-Amz-SignedHeaders=host';
  it('replaces a known URL by its location, and any leftover signature or credential', () => {
    const redact = redactor(new Map([[url, 's3://media/in/video.mp4']]));
    expect(redact(`Input #0, mov,mp4,m4a,3gp,3g2,mj2, from '${url}':`)).toBe("Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 's3://media/in/video.mp4':");
    const partial = `[http @ 0x55] HTTP error 403 Forbidden for ${url.replace('X-Amz-Algorithm', 'x=1&X-Amz-Algorithm')}`;
    const out = redact(partial);
    expect(out).not.toContain('AKIDEXAMPLE');
    expect(out).not.toContain('0123456789abcdef');
    expect(redactSecrets('https://b.s3.amazonaws.com/k?AWSAccessKeyId=AKIA1&Signature=abc%2B&Expires=1')).toBe('https://b.s3.amazonaws.com/k?AWSAccessKeyId=<redacted>&Signature=<redacted>&Expires=1');
  });
});

describe('FFmpeg arguments of inputs', () => {
  it('keeps host paths behind -protocol_whitelist file', () => {
    expect(fileInput('/data/in.mp4', ['-ss', '1'])).toEqual(['-protocol_whitelist', 'file', '-ss', '1', '-i', 'file:/data/in.mp4']);
  });
  it('gives a network input exactly its protocols and media demuxers, no playlist formats', () => {
    const args = fileInput({ url: 'https://s3.example.com/b/k?X-Amz-Signature=1', protocols: 'https,tls,tcp', formats: NetworkInputFormats, options: ['-reconnect', '1'] }, ['-ss', '2']);
    expect(args).toEqual(['-protocol_whitelist', 'https,tls,tcp', '-format_whitelist', NetworkInputFormats, '-reconnect', '1', '-ss', '2', '-i', 'https://s3.example.com/b/k?X-Amz-Signature=1']);
    for (const playlist of ['hls', 'dash', 'concat', 'imf', 'image2', 'tee', 'data', 'ffmetadata']) expect(NetworkInputFormats.split(',')).not.toContain(playlist);
  });
});
