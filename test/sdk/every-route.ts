// A program that calls every route of the API through openapi-fetch, typed by the generated
// `paths` (sdk/src/openapi.ts). test/unit/openapi-client.test.ts type-checks it on its own (a
// route whose types change in a way this code no longer fits fails there) and runs it against a
// real server, checking that every path and method of the document was called and that each
// answer's status is one the document declares for it.
import type { Client } from 'openapi-fetch';
import type { paths } from '../../sdk/src/openapi.ts';

export interface Fixture {
  /** A small media file in storage. */
  input: string;
  /** Where job outputs may go (a folder under storage). */
  outputs: string;
}

/** The data of a successful answer, or an error naming the call and what the server said. */
function ok<T>(r: { data?: T; error?: unknown; response: Response }, what: string): T {
  if (r.data === undefined) throw new Error(`${what}: HTTP ${r.response.status} ${JSON.stringify(r.error)}`);
  return r.data;
}

export async function callEveryRoute(api: Client<paths>, f: Fixture): Promise<void> {
  // System
  const health = ok(await api.GET('/api/v1/health'), 'health');
  const version: string = health.version;
  void version;
  const metrics = ok(await api.GET('/metrics', { parseAs: 'text' }), 'metrics');
  if (!metrics.includes('# HELP')) throw new Error('metrics: not the Prometheus text format');

  // Files: the input downloaded, and its bytes uploaded again as a new file.
  const bytes = ok(await api.GET('/api/v1/files', { params: { query: { path: f.input } }, parseAs: 'arrayBuffer' }), 'download');
  await api.HEAD('/api/v1/files', { params: { query: { path: f.input } } });
  // The same file by a path-shaped URL (what players resolve playlists' relative entries against).
  const byPath = ok(await api.GET('/api/v1/storage/{path}', { params: { path: { path: f.input.replace(/^\/storage\//, '') } }, parseAs: 'arrayBuffer' }), 'download by path');
  if (byPath.byteLength !== bytes.byteLength) throw new Error(`download by path: ${byPath.byteLength} bytes, not ${bytes.byteLength}`);
  await api.HEAD('/api/v1/storage/{path}', { params: { path: { path: f.input.replace(/^\/storage\//, '') } } });
  const uploaded = ok(await api.POST('/api/v1/files', {
    params: { query: { filename: 'every-route-copy.mp4' } },
    // The document types binary bodies as string (format: binary); the bytes go as they are.
    body: bytes as unknown as string,
    bodySerializer: (b: unknown) => b as ArrayBuffer,
    headers: { 'content-type': 'application/octet-stream' },
  }), 'upload');
  if (uploaded.file.size_bytes !== bytes.byteLength) throw new Error(`upload: ${uploaded.file.size_bytes} bytes stored, ${bytes.byteLength} sent`);
  // A signed link to it, then the file read through the link alone: its query parameters and no
  // key, as a <video> element reads it.
  const link = ok(await api.POST('/api/v1/files/links', { body: { path: uploaded.file.path, expires_in: 60 } }), 'download link');
  const signed = new URL(link.url, 'http://server').searchParams;
  const viaLink = ok(await api.GET('/api/v1/files', {
    params: { query: { path: signed.get('path') ?? '', expires: Number(signed.get('expires')), key: signed.get('key') ?? '', signature: signed.get('signature') ?? '' } },
    headers: { 'x-api-key': null },
    parseAs: 'arrayBuffer',
  }), 'download by link');
  if (viaLink.byteLength !== bytes.byteLength) throw new Error(`download by link: ${viaLink.byteLength} bytes, ${bytes.byteLength} uploaded`);

  // Jobs
  const estimate = ok(await api.POST('/api/v1/estimate', { body: { input: f.input, output: 'mp4' } }), 'estimate');
  void estimate;
  const convert = ok(await api.POST('/api/v1/convert', { body: { input: f.input, output: { path: `${f.outputs}/every-route.mp4`, video: { codec: 'h264', preset: 'ultrafast' } } } }), 'convert');
  const id: string = convert.job.id;
  ok(await api.POST('/api/v1/stream', { body: { input: f.input, output: `${f.outputs}/every-route-hls`, type: 'hls', variants: [{ resolution: '240p', bitrate: '300k' }] } }), 'stream');
  ok(await api.POST('/api/v1/analyze', { body: { input: f.input, reference: f.input, metrics: ['psnr'] } }), 'analyze');
  const batch = ok(await api.POST('/api/v1/batch', { body: { jobs: [{ input: f.input, output: { path: `${f.outputs}/every-route-batch.mp4`, video: { preset: 'ultrafast' } } }], batch_name: 'every route' } }), 'batch');
  ok(await api.GET('/api/v1/batch/{id}', { params: { path: { id: batch.batch.id } } }), 'batch get');
  await api.DELETE('/api/v1/batch/{id}', { params: { path: { id: batch.batch.id } } });

  const list = ok(await api.GET('/api/v1/jobs', { params: { query: { status: 'queued', per_page: 5, sort: 'created_at:desc' } } }), 'jobs list');
  void list.total;
  const job = ok(await api.GET('/api/v1/jobs/{id}', { params: { path: { id } } }), 'job get');
  void job.progress;
  ok(await api.GET('/api/v1/jobs/{id}/logs', { params: { path: { id }, query: { lines: 5 } } }), 'logs');
  const events = ok(await api.GET('/api/v1/jobs/{id}/events', { params: { path: { id }, query: { last_event_id: 0 } }, parseAs: 'stream' }), 'events');
  await events?.cancel();
  ok(await api.GET('/api/v1/jobs/{id}/webhooks', { params: { path: { id }, query: { per_page: 10 } } }), 'webhook deliveries');
  // No such delivery: a declared 404.
  await api.POST('/api/v1/jobs/{id}/webhooks/{deliveryId}/redeliver', { params: { path: { id, deliveryId: 'msg_none' } } });
  // 200 while it runs, or a declared 409 if it already finished.
  await api.DELETE('/api/v1/jobs/{id}', { params: { path: { id } } });

  // Administration
  const created = ok(await api.POST('/api/v1/admin/keys', { body: { name: 'every route', scope: 'client' } }), 'key create');
  ok(await api.GET('/api/v1/admin/keys'), 'key list');
  ok(await api.POST('/api/v1/admin/keys/{id}/rotate', { params: { path: { id: created.api_key.id } } }), 'key rotate');
  ok(await api.DELETE('/api/v1/admin/keys/{id}', { params: { path: { id: created.api_key.id } } }), 'key revoke');
  ok(await api.GET('/api/v1/admin/stats'), 'stats');
  ok(await api.POST('/api/v1/admin/cleanup', { body: { older_than_hours: 100_000 } }), 'cleanup');
  ok(await api.GET('/api/v1/admin/webhook-secret'), 'webhook secret');
}
