// Writes crds/mediajobs.kubeff.io.yaml from the TypeBox schemas (`npm run gen`), and the Helm
// chart's copy of it (charts/kubeff/crds/, which Helm installs before the chart's templates).
// With --check it writes nothing and fails when either file is stale, for CI.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crdFileName, renderCrdYaml } from '../src/crd.ts';

const args = process.argv.slice(2);
const check = args.includes('--check');
const unknown = args.filter((arg) => arg !== '--check');
if (unknown.length > 0) {
  console.error(`Unknown argument(s): ${unknown.join(' ')}\nUsage: node crds/scripts/gen.ts [--check]`);
  process.exit(2);
}

const repoRoot = path.join(import.meta.dirname, '..', '..');
const files = [path.join(repoRoot, 'crds', crdFileName), path.join(repoRoot, 'charts', 'kubeff', 'crds', crdFileName)];
const text = renderCrdYaml();
const shown = (file: string) => path.relative(process.cwd(), file) || file;

if (check) {
  const stale = files.filter((file) => readOrUndefined(file) !== text);
  for (const file of stale) {
    console.error(`${shown(file)} is out of date with crds/src/spec.ts and crds/src/status.ts. Run \`npm run gen\` and commit the result.`);
  }
  if (stale.length > 0) process.exit(1);
  for (const file of files) console.log(`${shown(file)} is up to date`);
} else {
  for (const file of files) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
    console.log(shown(file));
  }
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
