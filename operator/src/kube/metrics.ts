// The operator's Prometheus metrics and its small HTTP endpoint (/metrics, /healthz, /readyz).
// Counters are bumped by the controller; gauges are read from its caches at scrape time, so a
// scrape costs nothing between scrapes.
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Phase } from '../../../crds/src/status.ts';

export interface ControllerView {
  /** MediaJobs in the cache per phase. */
  phases(): Record<Phase, number>;
  queueDepth(): number;
  outboxDepth(): number;
}

export class OperatorMetrics {
  readonly registry = new Registry();
  private view: ControllerView | undefined;
  private leading = false;
  readonly reconciles: Counter<'result'>;
  readonly reconcileSeconds: Histogram;
  readonly jobsCreated: Counter;
  readonly jobsDeleted: Counter;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const r = this.registry;
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: r, prefix: 'kubeff_operator_' });
    this.reconciles = new Counter({ name: 'kubeff_operator_reconciles_total', help: 'MediaJob reconciles, by result', labelNames: ['result'], registers: [r] });
    this.reconcileSeconds = new Histogram({ name: 'kubeff_operator_reconcile_duration_seconds', help: 'Time one reconcile took', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [r] });
    this.jobsCreated = new Counter({ name: 'kubeff_operator_jobs_created_total', help: 'batch/v1 Jobs created for MediaJobs', registers: [r] });
    this.jobsDeleted = new Counter({ name: 'kubeff_operator_jobs_deleted_total', help: 'Jobs deleted (cancellation)', registers: [r] });
    const self = this;
    new Gauge({
      name: 'kubeff_operator_mediajobs', help: 'MediaJobs in the cache, by phase', labelNames: ['phase'], registers: [r],
      collect() {
        const p = self.view?.phases();
        if (!p) return;
        for (const [phase, n] of Object.entries(p)) this.set({ phase }, n);
      },
    });
    new Gauge({ name: 'kubeff_operator_queue_depth', help: 'Keys waiting to be reconciled', registers: [r], collect() { this.set(self.view?.queueDepth() ?? 0); } });
    new Gauge({ name: 'kubeff_operator_lifecycle_outbox', help: 'Lifecycle events waiting for NATS', registers: [r], collect() { this.set(self.view?.outboxDepth() ?? 0); } });
    new Gauge({ name: 'kubeff_operator_leader', help: '1 while this replica holds the Lease', registers: [r], collect() { this.set(self.leading ? 1 : 0); } });
  }

  attach(view: ControllerView | undefined): void {
    this.view = view;
  }

  setLeading(leading: boolean): void {
    this.leading = leading;
  }

  /** Serves /metrics, /healthz and /readyz; resolves with the bound port. */
  async serve(port: number, host = '0.0.0.0'): Promise<{ port: number; server: Server }> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET') return void res.writeHead(405).end();
      if (path === '/healthz' || path === '/readyz') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      if (path !== '/metrics') return void res.writeHead(404).end();
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const addr = server.address();
    return { port: typeof addr === 'object' && addr ? addr.port : port, server };
  }
}
