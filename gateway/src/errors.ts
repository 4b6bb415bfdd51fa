// The reference's error envelope for every failure: {"error": {type, code, message, details,
// doc_url, request_id}}. Bad input is a 4xx naming the field; a 5xx hides its internals and is
// logged with the request's context.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { SpecError, type ErrorDetails } from '../../crds/src/errors.ts';

export type ErrorType = 'validation_error' | 'authentication_error' | 'authorization_error' | 'not_found' | 'conflict' | 'rate_limit_error' | 'server_error';

export interface ErrorBody {
  type: ErrorType;
  code: string;
  message: string;
  details?: Partial<ErrorDetails> & Record<string, unknown>;
  doc_url: string;
  request_id: string;
}

const docBase = 'https://github.com/kubeff/kubeff/blob/main/README.md#errors';

export class ApiError extends Error {
  readonly statusCode: number;
  readonly type: ErrorType;
  readonly code: string;
  readonly details: ErrorBody['details'];
  readonly headers: Record<string, string>;
  constructor(statusCode: number, type: ErrorType, code: string, message: string, details?: ErrorBody['details'], headers: Record<string, string> = {}) {
    super(message);
    this.name = 'ApiError';
    this.statusCode = statusCode;
    this.type = type;
    this.code = code;
    this.details = details;
    this.headers = headers;
  }

  static notFound(what = 'Job'): ApiError {
    return new ApiError(404, 'not_found', what === 'Job' ? 'JOB_NOT_FOUND' : 'NOT_FOUND', `${what} not found`);
  }
}

export function envelope(req: FastifyRequest, e: Omit<ErrorBody, 'doc_url' | 'request_id'>): { error: ErrorBody } {
  return { error: { ...e, doc_url: `${docBase}-${e.code.toLowerCase()}`, request_id: String(req.id) } };
}

/** Fastify's own failures (bad JSON, wrong content type, schema) in our words. */
function fromFastify(err: FastifyError): ApiError | undefined {
  if (err.validation) {
    const v = err.validation[0];
    const where = err.validationContext ?? 'body';
    const path = v?.instancePath ? v.instancePath.slice(1).replace(/\//g, '.') : (v?.params as { missingProperty?: string } | undefined)?.missingProperty ?? where;
    return new ApiError(400, 'validation_error', 'INVALID_REQUEST', `${path}: ${v?.message ?? 'is invalid'}`, { field: where === 'body' ? path : `${where}.${path}` });
  }
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError(400, 'validation_error', 'INVALID_REQUEST', `malformed JSON: ${err.message}`, { field: 'body' });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'validation_error', 'UNSUPPORTED_MEDIA_TYPE', 'send the request body as application/json', { field: 'content-type' });
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'validation_error', 'PAYLOAD_TOO_LARGE', 'request body is too large', { field: 'body' });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError(400, 'validation_error', 'INVALID_REQUEST', 'content-length does not match the body', { field: 'content-length' });
    default:
      break;
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new ApiError(err.statusCode, 'validation_error', 'INVALID_REQUEST', err.message);
  }
  return undefined;
}

export function errorHandler(err: FastifyError | ApiError | SpecError | Error, req: FastifyRequest, reply: FastifyReply): void {
  let api: ApiError | undefined;
  if (err instanceof ApiError) api = err;
  else if (err instanceof SpecError) {
    const first = err.first;
    const status = 400;
    void reply.status(status).send(envelope(req, {
      type: 'validation_error',
      code: first.code,
      message: first.message.startsWith(first.details.field) ? first.message : `${first.details.field}: ${first.message}`,
      details: { ...first.details, ...(err.issues.length > 1 ? { errors: err.issues.map((i) => ({ code: i.code, message: i.message, ...i.details })) } : {}) },
    }));
    return;
  } else api = fromFastify(err as FastifyError);

  if (!api) {
    req.log.error({ err }, 'request failed');
    void reply.status(500).send(envelope(req, { type: 'server_error', code: 'INTERNAL_ERROR', message: 'internal error; the request id identifies it in the logs' }));
    return;
  }
  for (const [k, v] of Object.entries(api.headers)) void reply.header(k, v);
  void reply.status(api.statusCode).send(envelope(req, { type: api.type, code: api.code, message: api.message, ...(api.details ? { details: api.details } : {}) }));
}
