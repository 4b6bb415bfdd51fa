// Writes crds/mediajobs.kubeff.io.yaml from the TypeBox schemas (`npm run gen`).
// With --check it writes nothing and fails when the committed file is stale, for CI.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crdFileName, renderCrdYaml } from '../src/crd.ts';

const args = process.argv.slice(2);
const check = args.includes('--check');
const unknown = args.filter((arg) => arg !== '--check');
if (unknown.length > 0) {
  console.error(`Unknown argument(s): ${unknown.join(' ')}\nUsage: node crds/scripts/gen.ts [--check]`);
  process.exit(2);
}

const file = path.join(import.meta.dirname, '..', crdFileName);
const shown = path.relative(process.cwd(), file) || file;
const text = renderCrdYaml();

if (check) {
  if (readOrUndefined(file) !== text) {
    console.error(`${shown} is out of date with crds/src/spec.ts and crds/src/status.ts. Run \`npm run gen\` and commit the result.`);
    process.exit(1);
  }
  console.log(`${shown} is up to date`);
} else {
  writeFileSync(file, text);
  console.log(shown);
}

function readOrUndefined(target: string): string | undefined {
  try {
    return readFileSync(target, 'utf8');
  } catch (error) {
    // A missing file is just "stale"; anything else (permissions, ...) is a real failure.
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return undefined;
    throw error;
  }
}
