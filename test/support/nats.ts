// A real nats-server on a loopback port (Debian's package, or NATS_SERVER_BIN).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort, waitForPort } from './ports.ts';

/** A port and store folder given again restart the same server (JetStream keeps its streams). */
export async function startNats(opts: { port?: number; storeDir?: string } = {}): Promise<{ url: string; port: number; storeDir: string; stop(): Promise<void>; child: ChildProcess }> {
  const port = opts.port ?? (await freePort());
  const storeDir = opts.storeDir ?? `/tmp/kubeff-nats-${port}`;
  // Debian installs it in /usr/sbin, which is not on every user's PATH.
  const bin = process.env['NATS_SERVER_BIN'] || (existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server');
  const child = spawn(bin, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
  const spawnError = new Promise<never>((_, reject) => child.once('error', (e) => reject(new Error(`cannot start ${bin} (install Debian's nats-server): ${e.message}`))));
  await Promise.race([waitForPort(port, { timeoutMs: 10_000, what: 'nats-server', failed: () => (child.exitCode !== null ? `nats-server exited with ${child.exitCode}: ${err}` : undefined) }), spawnError]);
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
