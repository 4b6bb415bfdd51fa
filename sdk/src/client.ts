// KubeffClient: one method per thing the API does, typed from the OpenAPI document (types.ts).
// Submissions answer with the new job; `waitFor` follows it to its end; `events` iterates its live
// events; `files` moves bytes in and out of storage; `admin` needs an admin key.
import { download, link, upload, type DownloadLink, type DownloadOptions, type FileDownload, type LinkOptions, type UploadOptions } from './files.ts';
import { jobEvents, type EventsOptions, type JobEvent } from './job-events.ts';
import { seg, Transport, type CallOptions, type ClientOptions } from './transport.ts';
import type {
  AnalyzeRequest, ApiKey, Batch, BatchRequest, CleanupRequest, CleanupResult, ConvertRequest, CreateKeyRequest, Estimate, EstimateRequest, Health, Job,
  JobList, JobListQuery, JobLogs, JobSummary, KeySecret, Stats, StreamRequest, UploadedFile, WebhookDelivery, WebhookDeliveryList, WebhookDeliveryListQuery,
  WebhookSecret,
} from './types.ts';
import type { UploadSource } from './upload-body.ts';
import { waitForJob, type WaitOptions } from './wait.ts';

export interface SubmitOptions extends CallOptions {
  /** A retried submission with the same key and body creates one job (safe retries after a timeout or a 5xx). */
  idempotencyKey?: string | undefined;
}

function submitHeaders(o: SubmitOptions): Record<string, string> | undefined {
  return o.idempotencyKey === undefined ? o.headers : { ...o.headers, 'idempotency-key': o.idempotencyKey };
}

export class KubeffClient {
  private readonly t: Transport;

  constructor(options: ClientOptions) {
    this.t = new Transport(options);
  }

  /** The server's base URL, normalized (no trailing slash or /api/v1). */
  get baseUrl(): string {
    return this.t.baseUrl;
  }

  get apiKey(): string | undefined {
    return this.t.apiKey;
  }

  /** Converts a file: codecs, resolution, trims and other operations. */
  async convert(body: ConvertRequest, o: SubmitOptions = {}): Promise<JobSummary> {
    return (await this.t.json<{ job: JobSummary }>('POST', '/convert', { ...o, json: body, headers: submitHeaders(o) })).job;
  }

  /** Packages adaptive streaming (HLS or DASH) with quality variants. */
  async stream(body: StreamRequest, o: SubmitOptions = {}): Promise<JobSummary> {
    return (await this.t.json<{ job: JobSummary }>('POST', '/stream', { ...o, json: body, headers: submitHeaders(o) })).job;
  }

  /** Measures quality (VMAF, PSNR, SSIM) of an encode against its reference. */
  async analyze(body: AnalyzeRequest, o: SubmitOptions = {}): Promise<JobSummary> {
    return (await this.t.json<{ job: JobSummary }>('POST', '/analyze', { ...o, json: body, headers: submitHeaders(o) })).job;
  }

  /** Time, size and resources a job would take, without creating it. */
  estimate(body: EstimateRequest, o: CallOptions = {}): Promise<Estimate> {
    return this.t.json<Estimate>('POST', '/estimate', { ...o, json: body });
  }

  /** Up to 100 jobs at once; all are accepted or none. */
  async batch(body: BatchRequest, o: SubmitOptions = {}): Promise<Batch> {
    return (await this.t.json<{ batch: Batch }>('POST', '/batch', { ...o, json: body, headers: submitHeaders(o) })).batch;
  }

  readonly batches = {
    /** A batch with its jobs and aggregate progress. */
    get: async (id: string, o: CallOptions = {}): Promise<Batch> => (await this.t.json<{ batch: Batch }>('GET', `/batch/${seg(id)}`, o)).batch,
    /** Cancels every unfinished job of the batch. */
    cancel: async (id: string, o: CallOptions = {}): Promise<Batch> => (await this.t.json<{ batch: Batch }>('DELETE', `/batch/${seg(id)}`, o)).batch,
  };

  readonly jobs = {
    get: (id: string, o: CallOptions = {}): Promise<Job> => this.t.json<Job>('GET', `/jobs/${seg(id)}`, o),
    /** A page of jobs (a client key sees its own). */
    list: (query: JobListQuery = {}, o: CallOptions = {}): Promise<JobList> => this.t.json<JobList>('GET', '/jobs', { ...o, query: { ...query } }),
    /** Cancels a job (its FFmpeg process stops); a finished job answers 409 JOB_ALREADY_FINISHED. */
    cancel: async (id: string, o: CallOptions = {}): Promise<Job> => (await this.t.json<{ job: Job }>('DELETE', `/jobs/${seg(id)}`, o)).job,
    /** The job's last FFmpeg log lines (default 100). */
    logs: (id: string, query: { lines?: number | undefined } = {}, o: CallOptions = {}): Promise<JobLogs> => this.t.json<JobLogs>('GET', `/jobs/${seg(id)}/logs`, { ...o, query: { ...query } }),
    /** The job's webhook deliveries, each with its attempts. */
    webhooks: (id: string, query: WebhookDeliveryListQuery = {}, o: CallOptions = {}): Promise<WebhookDeliveryList> =>
      this.t.json<WebhookDeliveryList>('GET', `/jobs/${seg(id)}/webhooks`, { ...o, query: { ...query } }),
    /** Sends a delivery again now (same webhook-id, fresh signature). */
    redeliver: async (id: string, deliveryId: string, o: CallOptions = {}): Promise<WebhookDelivery> =>
      (await this.t.json<{ delivery: WebhookDelivery }>('POST', `/jobs/${seg(id)}/webhooks/${seg(deliveryId)}/redeliver`, o)).delivery,
  };

  /**
   * The job's live events, ending with its final one (complete, error or cancelled). A dropped
   * connection is resumed where it broke (Last-Event-ID): no event is lost or repeated.
   */
  events(jobId: string, o: EventsOptions = {}): AsyncGenerator<JobEvent, void, undefined> {
    return jobEvents(this.t, jobId, o);
  }

  /** Resolves with the finished job (completed, failed or cancelled), following its events, else polling. */
  waitFor(job: string | { id: string }, o: WaitOptions = {}): Promise<Job> {
    return waitForJob({ events: (id, eo) => this.events(id, eo), get: (id, co) => this.jobs.get(id, co) }, typeof job === 'string' ? job : job.id, o);
  }

  readonly files = {
    /** Streams bytes into storage; the answer describes the stored file (format, duration, codecs). */
    upload: (source: UploadSource, o: UploadOptions = {}): Promise<UploadedFile> => upload(this.t, source, o),
    /** A file's bytes as a web ReadableStream (Range supported). */
    download: (path: string, o: DownloadOptions = {}): Promise<FileDownload> => download(this.t, path, o),
    /** A signed URL that downloads the file without a key until it expires (for <video src>); the key must be able to read the file. */
    link: (path: string, o: LinkOptions = {}): Promise<DownloadLink> => link(this.t, path, o),
  };

  readonly admin = {
    keys: {
      list: async (o: CallOptions = {}): Promise<ApiKey[]> => (await this.t.json<{ keys: ApiKey[] }>('GET', '/admin/keys', o)).keys,
      /** A new key; its secret (`key`) is in this answer only. */
      create: (body: CreateKeyRequest, o: CallOptions = {}): Promise<KeySecret> => this.t.json<KeySecret>('POST', '/admin/keys', { ...o, json: body }),
      /** A new secret for the key (its jobs stay its own); the old one stops working at once. */
      rotate: (id: string, o: CallOptions = {}): Promise<KeySecret> => this.t.json<KeySecret>('POST', `/admin/keys/${seg(id)}/rotate`, o),
      /** Revokes the key; it stays listed, as revoked. */
      revoke: async (id: string, o: CallOptions = {}): Promise<ApiKey> => (await this.t.json<{ api_key: ApiKey }>('DELETE', `/admin/keys/${seg(id)}`, o)).api_key,
    },
    stats: (o: CallOptions = {}): Promise<Stats> => this.t.json<Stats>('GET', '/admin/stats', o),
    /** Deletes the records of finished jobs older than the given hours (files stay). */
    cleanup: (body: CleanupRequest, o: CallOptions = {}): Promise<CleanupResult> => this.t.json<CleanupResult>('POST', '/admin/cleanup', { ...o, json: body }),
    /** The secret that signs webhooks, for receivers (verifyWebhook). */
    webhookSecret: (o: CallOptions = {}): Promise<WebhookSecret> => this.t.json<WebhookSecret>('GET', '/admin/webhook-secret', o),
  };

  /** The server's health; details only for admin keys. */
  health(o: CallOptions = {}): Promise<Health> {
    return this.t.json<Health>('GET', '/health', o);
  }
}
