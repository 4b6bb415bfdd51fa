// The process's logger: structured JSON lines on stdout (pino), written asynchronously so a busy
// event loop never waits on a pipe. sonic-boom coalesces the lines that arrive while a write is in
// flight into one write, and pino flushes what is left when the process exits.
import pino, { type Logger } from 'pino';

export function processLogger(level: string, bindings?: Record<string, string>): Logger {
  const log = pino({ level }, pino.destination({ dest: 1, sync: false }));
  return bindings ? log.child(bindings) : log;
}
