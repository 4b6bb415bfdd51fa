// A real S3 server for the storage tests: versitygw (posix backend) on a loopback port, built from
// the Go module proxy on first use (test/support/build-versitygw.sh, cached in ~/.cache/kubeff),
// or VERSITYGW_BIN. Each server has its own folders, root credentials and buckets.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort, waitForPort } from './ports.ts';

let cachedBin: string | undefined;

/** The versitygw binary: VERSITYGW_BIN, else built (once, cached) by build-versitygw.sh. */
export function versitygwBin(): string {
  if (process.env['VERSITYGW_BIN']) return process.env['VERSITYGW_BIN'];
  if (cachedBin) return cachedBin;
  const script = join(import.meta.dirname, 'build-versitygw.sh');
  // A cold build takes about 4 minutes on 2 cores; later calls print the cached path at once.
  const out = execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 20 * 60_000 });
  cachedBin = out.trim().split('\n').pop() ?? '';
  if (!cachedBin) throw new Error('build-versitygw.sh printed no binary path');
  return cachedBin;
}

export interface S3Server {
  endpoint: string;
  port: number;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** A client with the root credentials, for the tests' own checks. */
  client: S3Client;
  /** KUBEFF_S3_* variables for the default backend (or a named one, with `name`). */
  env(opts?: { name?: string; buckets?: string[]; secretAccessKey?: string }): Record<string, string>;
  createBucket(name: string): Promise<void>;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startS3(buckets: string[] = []): Promise<S3Server> {
  const bin = versitygwBin();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'kubeff-s3-'));
  const data = join(dir, 'data');
  const meta = join(dir, 'meta');
  mkdirSync(data);
  mkdirSync(meta);
  const accessKeyId = `kubeff${randomBytes(6).toString('hex')}`;
  const secretAccessKey = randomBytes(20).toString('hex');
  const region = 'us-east-1';
  const child = spawn(bin, ['--port', `127.0.0.1:${port}`, '--region', region, 'posix', '--sidecar', meta, data], {
    env: { ...process.env, ROOT_ACCESS_KEY: accessKeyId, ROOT_SECRET_KEY: secretAccessKey },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (d: Buffer) => (log = (log + d.toString()).slice(-4000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const spawnError = new Promise<never>((_, reject) => child.once('error', (e) => reject(new Error(`cannot start ${bin}: ${e.message}`))));
  await Promise.race([waitForPort(port, { what: 'versitygw', failed: () => (child.exitCode !== null ? `versitygw exited with ${child.exitCode}: ${log}` : undefined) }), spawnError]);
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    region,
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const createBucket = async (name: string) => {
    await client.send(new CreateBucketCommand({ Bucket: name }));
  };
  for (const b of buckets) await createBucket(b);
  return {
    endpoint,
    port,
    region,
    accessKeyId,
    secretAccessKey,
    client,
    child,
    createBucket,
    env(opts = {}) {
      const prefix = opts.name ? `KUBEFF_S3_${opts.name.toUpperCase()}_` : 'KUBEFF_S3_';
      return {
        ...(opts.name ? { KUBEFF_S3_BACKENDS: opts.name } : {}),
        [`${prefix}ENDPOINT`]: endpoint,
        [`${prefix}REGION`]: region,
        [`${prefix}ACCESS_KEY_ID`]: accessKeyId,
        [`${prefix}SECRET_ACCESS_KEY`]: opts.secretAccessKey ?? secretAccessKey,
        ...(opts.buckets ? { [`${prefix}BUCKETS`]: opts.buckets.join(',') } : {}),
      };
    },
    stop: () =>
      new Promise<void>((resolve) => {
        client.destroy();
        const done = () => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        };
        if (child.exitCode !== null) return done();
        child.once('exit', done);
        child.kill('SIGTERM');
      }),
  };
}
