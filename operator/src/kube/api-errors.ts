// The HTTP status of a failed Kubernetes API call, wherever the client put it (ApiException.code;
// older shapes carried statusCode or the Status body's code).
export function httpCode(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown; body?: { code?: unknown } };
  const c = e.code ?? e.statusCode ?? e.body?.code;
  return typeof c === 'number' ? c : undefined;
}
