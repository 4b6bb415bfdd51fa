// The process-wide OpenTelemetry setup of kubeff's processes (the gateway, the operator), off
// unless an OTLP endpoint is configured. Off means free: no OpenTelemetry module is even loaded
// (the API, SDK and exporter are imported on start; the SDK alone takes ~300 ms to load). On,
// spans are exported in batches over OTLP/HTTP (JSON). The gateway's request spans are in
// gateway/src/tracing.ts; the operator's own spans in ./kube/tracing.ts.
import type * as OtelApi from '@opentelemetry/api';
import type { Tracer } from '@opentelemetry/api';
import { kubeffVersion } from './version.ts';

// Stable OpenTelemetry semantic-convention names (HTTP, URL, client, service), spelled out
// rather than imported from @opentelemetry/semantic-conventions: stable names do not change,
// and the off path should load nothing.
const ATTR_SERVICE_NAME = 'service.name';
const ATTR_SERVICE_VERSION = 'service.version';

export interface TracingConfig {
  /** Full URL the spans are POSTed to (…/v1/traces). */
  tracesUrl: string;
  serviceName: string;
}

/**
 * Tracing settings from the standard OpenTelemetry variables, or undefined when tracing is off:
 * no endpoint set, OTEL_SDK_DISABLED=true, or OTEL_TRACES_EXPORTER=none.
 */
export function tracingConfig(env: NodeJS.ProcessEnv = process.env): TracingConfig | undefined {
  if (/^true$/i.test(env['OTEL_SDK_DISABLED'] ?? '')) return undefined;
  if ((env['OTEL_TRACES_EXPORTER'] ?? '').split(',').map((s) => s.trim()).includes('none')) return undefined;
  const signal = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']?.trim();
  const base = env['OTEL_EXPORTER_OTLP_ENDPOINT']?.trim();
  // As the OTLP spec says: the per-signal URL is used as is, the base one gets /v1/traces.
  const tracesUrl = signal || (base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined);
  if (!tracesUrl) return undefined;
  return { tracesUrl, serviceName: env['OTEL_SERVICE_NAME']?.trim() || 'kubeff-gateway' };
}

export interface Tracing {
  config: TracingConfig;
  tracer: Tracer;
  /** The OpenTelemetry API module, loaded with the SDK. */
  api: typeof OtelApi;
  /** Exports the spans still buffered. */
  forceFlush(): Promise<void>;
}

interface Started extends Tracing {
  shutdown(): Promise<void>;
}

// One provider per process: the OpenTelemetry API's globals (tracer provider, propagator,
// context manager) can be set only once, so every app in the process shares it.
let started: Promise<Started | undefined> | undefined;
// Set once tracing runs, so callers can stay synchronous and load nothing when off.
let runningApi: typeof OtelApi | undefined;

/** The OpenTelemetry API module while tracing runs; undefined when it is off. */
export function activeTracingApi(): typeof OtelApi | undefined {
  return runningApi;
}


/**
 * Starts tracing when configured (see tracingConfig) and returns it; undefined when not.
 * Idempotent: a second call returns the provider already running. Call it early in the
 * process (before the app is built) if other code should be traced from the start.
 */
export function startTracing(env: NodeJS.ProcessEnv = process.env): Promise<Tracing | undefined> {
  if (started) return started;
  const config = tracingConfig(env);
  // Not cached when off, so a later call with tracing configured can still start it.
  if (!config) return Promise.resolve(undefined);
  started = (async () => {
    const [api, { NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes, detectResources, envDetector }] = await Promise.all([
      import('@opentelemetry/api'),
      import('@opentelemetry/sdk-trace-node'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
    ]);
    const version = kubeffVersion;
    // OTEL_RESOURCE_ATTRIBUTES (envDetector) wins over our defaults.
    const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.serviceName, [ATTR_SERVICE_VERSION]: version }).merge(detectResources({ detectors: [envDetector] }));
    // Headers, timeout and compression still come from OTEL_EXPORTER_OTLP_* as usual.
    const exporter = new OTLPTraceExporter({ url: config.tracesUrl });
    // Batching (delay and sizes from OTEL_BSP_*) keeps export off the request path.
    const provider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(exporter)] });
    // The default propagator is W3C trace-context (plus W3C baggage); the default context
    // manager is AsyncLocalStorage, which context.with() in the hooks below relies on.
    provider.register();
    const tracer = provider.getTracer('kubeff-gateway', version);
    runningApi = api;
    return {
      config,
      tracer,
      api,
      forceFlush: () => provider.forceFlush(),
      shutdown: () => provider.shutdown(),
    };
  })();
  return started;
}

/** Flushes and stops tracing and clears the globals, so it can be started again (tests). */
export async function stopTracing(): Promise<void> {
  const s = started;
  started = undefined;
  const t = await s;
  if (!t) return;
  runningApi = undefined;
  try {
    await t.shutdown();
  } finally {
    t.api.trace.disable();
    t.api.propagation.disable();
    t.api.context.disable();
  }
}
