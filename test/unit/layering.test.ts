// The packages' layering: what may import what, and no import circles (type imports included,
// since a circle of types is still a circle a reader has to untangle).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const packages = ['crds', 'operator', 'gateway', 'worker-image', 'cli', 'sdk', 'ui'];

function sources(dir: string): string[] {
  let out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(sources(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const importPattern = /^\s*(?:import|export)\s[^'";]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** Relative specifiers resolved to files, and `@kubeff/<pkg>` named as the package. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(importPattern)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (!spec) continue;
    if (spec.startsWith('.')) out.push(resolve(dirname(file), spec));
    else if (spec.startsWith('@kubeff/')) out.push(`pkg:${spec.slice('@kubeff/'.length).split('/')[0]}`);
  }
  return out;
}

const files = packages.flatMap((p) => sources(join(root, p, 'src')).concat(p === 'crds' ? sources(join(root, p, 'scripts')) : []));
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const packageOf = (file: string) => relative(root, file).split('/')[0]!;

/** Which package each package may import (by relative path or by name). */
const allowed: Record<string, string[]> = {
  crds: [],
  'worker-image': ['crds'],
  operator: ['crds', 'worker-image'],
  gateway: ['crds', 'operator', 'worker-image'],
  sdk: [],
  cli: ['sdk'],
  ui: ['sdk'],
};

describe('layering', () => {
  it('finds the sources it checks', () => {
    expect(files.length, 'no source files found').toBeGreaterThan(50);
  });

  it.each(Object.entries(allowed))('%s imports only from itself and its allowed packages', (pkg, may) => {
    const wrong: string[] = [];
    for (const [file, deps] of graph) {
      if (packageOf(file) !== pkg) continue;
      for (const dep of deps) {
        const target = dep.startsWith('pkg:') ? dep.slice(4) : packageOf(dep);
        if (target !== pkg && !may.includes(target)) wrong.push(`${relative(root, file)} → ${dep.startsWith('pkg:') ? `@kubeff/${target}` : relative(root, dep)}`);
      }
    }
    expect(wrong, `${pkg} imports what it may not`).toEqual([]);
  });

  it('has no import circles', () => {
    const state = new Map<string, 'open' | 'done'>();
    const circles: string[] = [];
    const visit = (file: string, path: string[]) => {
      state.set(file, 'open');
      for (const dep of graph.get(file) ?? []) {
        if (!graph.has(dep)) continue;
        const s = state.get(dep);
        if (s === 'open') circles.push([...path.slice(path.indexOf(dep)), dep].map((f) => relative(root, f)).join(' → '));
        else if (!s) visit(dep, [...path, dep]);
      }
      state.set(file, 'done');
    };
    for (const file of graph.keys()) if (!state.has(file)) visit(file, [file]);
    expect(circles, 'import circles').toEqual([]);
  });
});
