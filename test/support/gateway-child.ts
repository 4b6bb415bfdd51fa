// A standalone gateway in its own process, so its memory can be measured from outside (the test
// reads /proc/<pid>/status). Configured from the environment like the real server; with S3
// backends in the environment its storage serves them. Prints one JSON line with its URL.
import pino from 'pino';
import { configFromEnv } from '../../gateway/src/config.ts';
import { startStandalone } from '../../gateway/src/standalone.ts';
import { storageFromEnv } from '../../worker-image/src/storage.ts';

const config = configFromEnv(process.env);
const s = await startStandalone(config, { logger: pino({ level: 'warn' }) });
// What standalone.ts builds once it reads the storage settings itself; harmless after.
s.deps.storage = storageFromEnv(config.storageRoot, process.env);
await s.app.listen({ port: 0, host: '127.0.0.1' });
const addr = s.app.server.address();
if (!addr || typeof addr === 'string') throw new Error('no port');
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${addr.port}` })}\n`);
process.on('SIGTERM', () => {
  s.close().then(() => process.exit(0), () => process.exit(1));
});
// Diagnostics for the memory test: the heap's view every second, on stderr.
if (process.env['KUBEFF_TEST_MEMORY_LOG']) {
  setInterval(() => {
    const m = process.memoryUsage();
    process.stderr.write(`memory ${Object.entries(m).map(([k, v]) => `${k}=${(v / 1048576).toFixed(0)}`).join(' ')}\n`);
  }, 1000).unref();
}
