// @kubeff/client: a TypeScript client of the kubeff media API for Node and browsers. fetch-based,
// no runtime dependencies; its request and response types are generated from the API's OpenAPI
// document (openapi.ts, re-exported as `paths` for openapi-fetch and other typed clients).
export { KubeffClient, type SubmitOptions } from './client.ts';
export { KubeffError, KubeffNetworkError, isErrorEnvelope, type NetworkFailure } from './errors.ts';
export type { ReconnectInfo, ReconnectOptions } from './event-stream.ts';
export { followEventStream } from './event-stream.ts';
export type { ByteRange, DownloadLink, DownloadOptions, FileDownload, LinkOptions, UploadOptions } from './files.ts';
export { finalEvents, type EventsOptions, type JobEvent, type JobEventName } from './job-events.ts';
export type { components, operations, paths } from './openapi.ts';
export { SseParser, type SseEvent } from './sse-parser.ts';
export { normalizeBaseUrl, type CallOptions, type ClientOptions, type FetchLike } from './transport.ts';
export type * from './types.ts';
export type { UploadSource } from './upload-body.ts';
export type { WaitOptions } from './wait.ts';
export { parseWebhook, verifyWebhook, webhookHeaders, webhookSecretKey, WebhookVerificationError, type VerifyWebhookInput, type WebhookPayload } from './webhooks.ts';
