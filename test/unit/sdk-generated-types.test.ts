// The SDK's types come from the API's OpenAPI document and must not go stale: the committed
// sdk/src/openapi.ts is compared with what openapi-typescript makes of the document the server
// serves now. And the SDK must build for a browser: its sources are type-checked with the DOM's
// types and without Node's, so a Node-only global or import in sdk/src fails here.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { generatedPath, generateTypes, openapiDocument } from '../../sdk/scripts/document.ts';

const repo = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);

/** Where two texts first differ, as a line number and both lines, for a readable failure. */
function firstDifference(a: string, b: string): string | undefined {
  const al = a.split('\n');
  const bl = b.split('\n');
  for (let i = 0; i < Math.max(al.length, bl.length); i++) {
    if (al[i] !== bl[i]) return `line ${i + 1}:\n  committed: ${al[i] ?? '(end of file)'}\n  generated: ${bl[i] ?? '(end of file)'}`;
  }
  return undefined;
}

describe('the SDK\'s generated types', () => {
  it('are what openapi-typescript makes of the current /openapi.json (else: npm run gen:sdk)', async () => {
    const fresh = await generateTypes(await openapiDocument());
    const committed = readFileSync(generatedPath, 'utf8');
    const diff = firstDifference(committed, fresh);
    expect(diff, `sdk/src/openapi.ts is stale; run npm run gen:sdk. First difference at ${diff}`).toBeUndefined();
  });
});

describe('the SDK', () => {
  it('type-checks as a browser project: DOM types, no Node types (sdk/tsconfig.json)', async () => {
    const tsc = join(repo, 'node_modules', '.bin', 'tsc');
    const r = await run(tsc, ['--noEmit', '-p', join(repo, 'sdk', 'tsconfig.json')], { cwd: repo }).then(() => ({ code: 0, out: '' }), (e: { code?: number; stdout?: string }) => ({ code: e.code ?? 1, out: e.stdout ?? '' }));
    expect(r.code, `sdk/src does not compile without Node's types:\n${r.out}`).toBe(0);
  });

  it('imports no node: module and nothing from the other packages at run time', () => {
    const files = ['client', 'errors', 'event-stream', 'files', 'index', 'job-events', 'signals', 'sse-parser', 'transport', 'types', 'upload-body', 'wait', 'webhooks'];
    const found: string[] = [];
    for (const f of files) {
      const text = readFileSync(join(repo, 'sdk', 'src', `${f}.ts`), 'utf8');
      for (const m of text.matchAll(/from\s+'([^']+)'/g)) if (!m[1]?.startsWith('./')) found.push(`${f}.ts imports ${m[1]}`);
    }
    expect(found, 'the SDK must have no runtime dependencies and no Node-only imports').toEqual([]);
  });
});
