// Configuration from the environment, read once at start. Every variable is documented in the README.
import { resolve } from 'node:path';
import { configuredLinkSecret } from './link-secret.ts';

export interface Config {
  /** standalone: embedded store and local workers; cluster: MediaJobs in the Kubernetes API. */
  mode: 'standalone' | 'cluster';
  /** Cluster mode: where MediaJobs and API-key Secrets live. */
  namespace: string;
  /** Cluster mode: NATS with JetStream (job events for SSE and webhooks). */
  natsUrl: string | undefined;
  /** Cluster mode: how long the job event stream keeps events (SSE resume, webhooks). */
  eventRetentionSeconds: number;
  port: number;
  host: string;
  storageRoot: string;
  dataDir: string;
  /** How the embedded database syncs commits: normal survives a killed process, full also a power loss. */
  sqliteSynchronous: 'normal' | 'full';
  /** Raw keys accepted as given (hashed before storing). */
  apiKeys: string[];
  adminKeys: string[];
  /** Local development only: any non-empty key is accepted and becomes its own owner. */
  acceptAnyKey: boolean;
  limits: {
    perSecond: number;
    perHour: number;
    /** Jobs of one key running at once; more wait queued. */
    concurrentJobs: number;
    /** Jobs of one key waiting or running; past it a submission is refused with 429. */
    queuedJobs: number;
    /** Jobs running at once on this machine. */
    globalJobs: number;
    /** Worker processes kept started, waiting for a job (saves Node's start per job). */
    spareWorkers: number;
  };
  maxUploadBytes: number;
  /** Webhook targets on private, loopback or link-local addresses are refused unless allowed. */
  webhookAllowPrivate: boolean;
  idempotencyHours: number;
  /** Secret of signed download links (KUBEFF_LINK_SECRET); undefined: generated and kept (link-secret.ts). */
  linkSecret: string | undefined;
  ffmpegPath: string | undefined;
  ffprobePath: string | undefined;
  logLevel: string;
  sseKeepAliveMs: number;
}

function int(env: NodeJS.ProcessEnv, name: string, def: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be a whole number >= ${min}, got '${raw}'`);
  return n;
}

function list(v: string | undefined): string[] {
  return (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

function bool(v: string | undefined): boolean {
  return v !== undefined && /^(1|true|yes|on)$/i.test(v);
}

function mode(v: string | undefined): Config['mode'] {
  if (v === undefined || v === '' || v === 'standalone') return 'standalone';
  if (v === 'cluster') return 'cluster';
  throw new Error(`KUBEFF_MODE must be standalone or cluster, got '${v}'`);
}

function synchronous(v: string | undefined): Config['sqliteSynchronous'] {
  if (v === undefined || v === '' || v.toLowerCase() === 'normal') return 'normal';
  if (v.toLowerCase() === 'full') return 'full';
  throw new Error(`KUBEFF_SQLITE_SYNCHRONOUS must be normal or full, got '${v}'`);
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Config {
  const m = mode(env['KUBEFF_MODE']);
  if (m === 'cluster' && !env['NATS_URL']) throw new Error('NATS_URL is required when KUBEFF_MODE=cluster (job events travel through NATS JetStream)');
  return {
    mode: m,
    namespace: env['KUBEFF_NAMESPACE'] || env['POD_NAMESPACE'] || 'default',
    natsUrl: env['NATS_URL'] || undefined,
    eventRetentionSeconds: int(env, 'KUBEFF_EVENT_RETENTION_SECONDS', 86_400, 60),
    port: int(env, 'PORT', 8000),
    host: env['HOST'] || '0.0.0.0',
    storageRoot: resolve(env['KUBEFF_STORAGE_ROOT'] || './storage'),
    dataDir: resolve(env['KUBEFF_DATA_DIR'] || './.kubeff'),
    sqliteSynchronous: synchronous(env['KUBEFF_SQLITE_SYNCHRONOUS']),
    apiKeys: list(env['KUBEFF_API_KEYS']),
    adminKeys: list(env['KUBEFF_ADMIN_KEYS']),
    acceptAnyKey: bool(env['KUBEFF_DEV_ACCEPT_ANY_KEY']),
    limits: {
      perSecond: int(env, 'KUBEFF_RATE_LIMIT_PER_SECOND', 10, 1),
      perHour: int(env, 'KUBEFF_RATE_LIMIT_PER_HOUR', 1000, 1),
      concurrentJobs: int(env, 'KUBEFF_MAX_CONCURRENT_JOBS', 10, 1),
      queuedJobs: int(env, 'KUBEFF_MAX_QUEUED_JOBS', 1000, 1),
      // 0 accepts and queues jobs without running any (maintenance, benchmarks of the API alone).
      globalJobs: int(env, 'KUBEFF_WORKERS', 2, 0),
      spareWorkers: int(env, 'KUBEFF_SPARE_WORKERS', 1, 0),
    },
    maxUploadBytes: int(env, 'KUBEFF_MAX_UPLOAD_BYTES', 10 * 1024 ** 3, 1),
    webhookAllowPrivate: bool(env['KUBEFF_WEBHOOK_ALLOW_PRIVATE']),
    idempotencyHours: int(env, 'KUBEFF_IDEMPOTENCY_HOURS', 24, 1),
    linkSecret: configuredLinkSecret(env),
    ffmpegPath: env['FFMPEG_PATH'] || undefined,
    ffprobePath: env['FFPROBE_PATH'] || undefined,
    logLevel: env['LOG_LEVEL'] || 'info',
    sseKeepAliveMs: int(env, 'KUBEFF_SSE_KEEPALIVE_MS', 15_000, 100),
  };
}
