// A minimal OTLP/HTTP (JSON) receiver on loopback that keeps every POST, for tracing tests.
import { createServer, type IncomingMessage, type Server } from 'node:http';

export interface OtlpAttribute { key: string; value: { stringValue?: string; intValue?: number | string; boolValue?: boolean } }
export interface OtlpSpan { name: string; kind: number; traceId: string; spanId: string; parentSpanId?: string; attributes: OtlpAttribute[] }

/** A minimal OTLP/HTTP receiver on loopback that keeps every POST. */
export async function otlpReceiver(): Promise<{ url: string; posts: { path: string; contentType: string; body: string }[]; spans(): OtlpSpan[]; close(): Promise<void> }> {
  const posts: { path: string; contentType: string; body: string }[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST') posts.push({ path: req.url ?? '', contentType: String(req.headers['content-type']), body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('receiver has no port');
  return {
    url: `http://127.0.0.1:${addr.port}`,
    posts,
    spans: () => posts.filter((p) => p.path === '/v1/traces' && p.contentType.startsWith('application/json')).flatMap((p) => {
      const body = JSON.parse(p.body) as { resourceSpans?: { scopeSpans?: { spans?: OtlpSpan[] }[] }[] };
      return (body.resourceSpans ?? []).flatMap((r) => (r.scopeSpans ?? []).flatMap((s) => s.spans ?? []));
    }),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

