// The operator's part of a job's trace. Through the OpenTelemetry API only: without a registered
// provider (no OTLP endpoint configured) every call here is a no-op and the traceparent passes
// through unchanged. With one, the Job's creation is a span under the request that created the
// MediaJob, the pod's TRACEPARENT points at that span (so the worker's NATS messages carry it),
// and the attempt, from start to its final state, is a span under it.
import { context, propagation, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';

const tracer = () => trace.getTracer('kubeff-operator');

function parent(traceparent: string | undefined) {
  return traceparent ? propagation.extract(context.active(), { traceparent }) : context.active();
}

function traceparentOf(span: Span): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), carrier);
  return carrier['traceparent'];
}

/** A span for creating the Job; its traceparent (or the given one when tracing is off) goes to the pod. */
export function startCreateJobSpan(traceparent: string | undefined, attributes: Record<string, string>): { traceparent: string | undefined; end(error?: string): void } {
  if (!traceparent) return { traceparent, end: () => undefined };
  const span = tracer().startSpan('operator create Job', { kind: SpanKind.INTERNAL, attributes }, parent(traceparent));
  const own = span.isRecording() ? traceparentOf(span) : undefined;
  return {
    traceparent: own ?? traceparent,
    end(error) {
      if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
      span.end();
    },
  };
}

/** The attempt as one span, recorded once its outcome is known (start time from the status). */
export function recordAttemptSpan(traceparent: string | undefined, name: string, startedAt: string | undefined, outcome: string, attributes: Record<string, string | number>, error?: string): void {
  if (!traceparent) return;
  const start = startedAt ? new Date(startedAt) : new Date();
  const span = tracer().startSpan(name, { kind: SpanKind.INTERNAL, attributes: { ...attributes, 'kubeff.job.outcome': outcome }, startTime: start }, parent(traceparent));
  if (outcome !== 'completed' && outcome !== 'cancelled') span.setStatus({ code: SpanStatusCode.ERROR, ...(error ? { message: error } : {}) });
  span.end();
}
