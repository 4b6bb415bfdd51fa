// Loopback ports for servers the tests start: a free one, and waiting until one listens.
import { connect, createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Waits until something accepts connections on 127.0.0.1:port, bounded in time; `failed` is
 * asked between tries and ends the wait with its message (e.g. the server process exited).
 */
export async function waitForPort(port: number, opts: { timeoutMs?: number; failed?: () => string | undefined; what?: string } = {}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    const why = opts.failed?.();
    if (why) throw new Error(why);
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${opts.what ?? 'the server'} did not listen on 127.0.0.1:${port} in time`);
}
