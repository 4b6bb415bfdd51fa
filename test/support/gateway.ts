// A real standalone kubeff on a real loopback port, with its own storage and data folders.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { configFromEnv } from '../../gateway/src/config.ts';
import { startStandalone, type Standalone } from '../../gateway/src/standalone.ts';
import type { RetryPolicy } from '../../operator/src/retry.ts';
import { makeStorage, type StorageRoot } from './media.ts';

export interface TestGateway {
  url: string;
  s: Standalone;
  storage: StorageRoot;
  dataDir: string;
  keys: { client: string; other: string; admin: string };
  api(path: string, init?: RequestInit & { key?: string; json?: unknown }): Promise<Response>;
  stop(): Promise<void>;
}

export async function startGateway(env: Record<string, string> = {}, opts: { retry?: RetryPolicy; storage?: StorageRoot; dataDir?: string; plugins?: NonNullable<Parameters<typeof startStandalone>[1]>['plugins'] } = {}): Promise<TestGateway> {
  const storage = opts.storage ?? makeStorage('kubeff-gw-');
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'kubeff-data-'));
  const keys = { client: 'client-key-aaaaaaaaaaaa', other: 'client-key-bbbbbbbbbbbb', admin: 'admin-key-cccccccccccc' };
  const config = configFromEnv({
    PORT: '0',
    HOST: '127.0.0.1',
    KUBEFF_STORAGE_ROOT: storage.root,
    KUBEFF_DATA_DIR: dataDir,
    KUBEFF_API_KEYS: `${keys.client},${keys.other}`,
    KUBEFF_ADMIN_KEYS: keys.admin,
    LOG_LEVEL: 'warn',
    KUBEFF_SSE_KEEPALIVE_MS: '500',
    // Tests poll; the rate-limit tests set their own limits.
    KUBEFF_RATE_LIMIT_PER_SECOND: '10000',
    KUBEFF_RATE_LIMIT_PER_HOUR: '1000000',
    ...env,
  });
  const s = await startStandalone(config, { logger: pino({ level: 'warn' }), ...(opts.retry ? { retry: opts.retry } : {}), ...(opts.plugins ? { plugins: opts.plugins } : {}) });
  await s.app.listen({ port: 0, host: '127.0.0.1' });
  const addr = s.app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('no port');
  const url = `http://127.0.0.1:${addr.port}`;
  return {
    url,
    s,
    storage,
    dataDir,
    keys,
    api(path, init = {}) {
      const { key, json, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (key !== '') headers.set('x-api-key', key ?? keys.client);
      if (json !== undefined) headers.set('content-type', 'application/json');
      return fetch(`${url}${path}`, { ...rest, headers, ...(json !== undefined ? { body: JSON.stringify(json) } : {}) });
    },
    async stop() {
      await s.close();
      if (!opts.storage) storage.remove();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls a job until it is finished (bounded). */
export async function waitForJob(gw: TestGateway, id: string, opts: { key?: string; timeoutMs?: number } = {}): Promise<Record<string, unknown>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    const res = await gw.api(`/api/v1/jobs/${id}`, { key: opts.key ?? gw.keys.client });
    const job = (await res.json()) as Record<string, unknown>;
    if (['completed', 'failed', 'cancelled'].includes(String(job['status']))) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${String(job['status'])} after ${opts.timeoutMs ?? 60_000} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
