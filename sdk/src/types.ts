// The API's request and response types, each taken from the generated OpenAPI types (openapi.ts):
// nothing here restates a shape, so a change to a route's schema reaches the SDK by `npm run
// gen:sdk` alone. The assertions at the end make the type check fail if a route this file names
// disappears or loses the part taken from it (the lookup would silently turn into `never`).
import type { components, paths } from './openapi.ts';

type Method = 'get' | 'post' | 'delete' | 'head' | 'put' | 'patch';
type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;

/** The JSON request body of an operation. */
export type RequestBody<P extends keyof paths, M extends Method> = Operation<P, M> extends { requestBody: { content: { 'application/json': infer B } } } ? B : never;

/** The JSON body of an operation's answer with status S. */
export type ResponseBody<P extends keyof paths, M extends Method, S extends number> =
  Operation<P, M> extends { responses: infer R } ? (S extends keyof R ? (R[S] extends { content: { 'application/json': infer B } } ? B : never) : never) : never;

/** The query parameters of an operation. */
export type QueryOf<P extends keyof paths, M extends Method> = Operation<P, M> extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

// Job requests
export type ConvertRequest = RequestBody<'/api/v1/convert', 'post'>;
export type StreamRequest = RequestBody<'/api/v1/stream', 'post'>;
export type AnalyzeRequest = RequestBody<'/api/v1/analyze', 'post'>;
export type EstimateRequest = RequestBody<'/api/v1/estimate', 'post'>;
export type BatchRequest = RequestBody<'/api/v1/batch', 'post'>;

// Jobs
/** What a submission answers: the new job, before it has run. */
export type JobSummary = ResponseBody<'/api/v1/convert', 'post', 201>['job'];
/** A job with its progress, outputs, metrics and error. */
export type Job = ResponseBody<'/api/v1/jobs/{id}', 'get', 200>;
export type JobStatus = Job['status'];
export type JobList = ResponseBody<'/api/v1/jobs', 'get', 200>;
export type JobListQuery = QueryOf<'/api/v1/jobs', 'get'>;
export type JobLogs = ResponseBody<'/api/v1/jobs/{id}/logs', 'get', 200>;
export type Estimate = ResponseBody<'/api/v1/estimate', 'post', 200>;
export type Batch = ResponseBody<'/api/v1/batch', 'post', 201>['batch'];

// Webhook deliveries of a job
export type WebhookDeliveryList = ResponseBody<'/api/v1/jobs/{id}/webhooks', 'get', 200>;
export type WebhookDeliveryListQuery = QueryOf<'/api/v1/jobs/{id}/webhooks', 'get'>;
export type WebhookDelivery = WebhookDeliveryList['deliveries'][number];

// Files
export type UploadQuery = QueryOf<'/api/v1/files', 'post'>;
export type UploadedFile = ResponseBody<'/api/v1/files', 'post', 201>['file'];
export type DownloadLinkRequest = RequestBody<'/api/v1/files/links', 'post'>;
/** The server's answer: `url` relative to the server. */
export type DownloadLinkResponse = ResponseBody<'/api/v1/files/links', 'post', 201>;

// Administration (admin keys only)
export type ApiKey = ResponseBody<'/api/v1/admin/keys', 'get', 200>['keys'][number];
export type CreateKeyRequest = RequestBody<'/api/v1/admin/keys', 'post'>;
/** A new or rotated key: `key` is the secret, shown only in this answer. */
export type KeySecret = ResponseBody<'/api/v1/admin/keys', 'post', 201>;
export type Stats = ResponseBody<'/api/v1/admin/stats', 'get', 200>;
export type CleanupRequest = RequestBody<'/api/v1/admin/cleanup', 'post'>;
export type CleanupResult = ResponseBody<'/api/v1/admin/cleanup', 'post', 200>;
export type WebhookSecret = ResponseBody<'/api/v1/admin/webhook-secret', 'get', 200>;

/** The body of every webhook delivery (the document's `webhooks.jobEvent`). */
export type WebhookPayload = components['schemas']['WebhookPayload'];

// System
export type Health = ResponseBody<'/api/v1/health', 'get', 200>;

/** The reference's error envelope, as every error answer of the API carries it. */
export type ErrorEnvelope = ResponseBody<'/api/v1/jobs/{id}', 'get', 404>;

// Compile-time checks: each derived type must be a real type, not `never`.
type IsNever<T> = [T] extends [never] ? true : false;
type Derived<T> = IsNever<T> extends true ? false : true;
type Assert<T extends true> = T;
export type DerivedTypesExist = Assert<
  Derived<ConvertRequest> & Derived<StreamRequest> & Derived<AnalyzeRequest> & Derived<EstimateRequest> & Derived<BatchRequest> &
  Derived<JobSummary> & Derived<Job> & Derived<JobStatus> & Derived<JobList> & Derived<JobListQuery> & Derived<JobLogs> & Derived<Estimate> & Derived<Batch> &
  Derived<WebhookDeliveryList> & Derived<WebhookDeliveryListQuery> & Derived<WebhookDelivery> & Derived<UploadQuery> & Derived<UploadedFile> &
  Derived<DownloadLinkRequest> & Derived<DownloadLinkResponse> &
  Derived<ApiKey> & Derived<CreateKeyRequest> & Derived<KeySecret> & Derived<Stats> & Derived<CleanupRequest> & Derived<CleanupResult> & Derived<WebhookSecret> &
  Derived<Health> & Derived<ErrorEnvelope> & Derived<WebhookPayload>
>;
