// The kubeff version, from the root package.json, read once: the OpenAPI document, the trace
// resource (and, if wanted, the health route) report the same number as the release.
import { readFileSync } from 'node:fs';

function read(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export const kubeffVersion: string = read();
