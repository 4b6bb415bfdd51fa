// The README's code blocks, for tests that run the examples exactly as they are written there.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const readme = join(import.meta.dirname, '..', '..', 'README.md');

/** The ```lang blocks of the section under `heading` (e.g. "## SDK"), up to the next heading of its level. */
export function readmeBlocks(heading: string, lang: string): string[] {
  const text = readFileSync(readme, 'utf8');
  const start = text.indexOf(`\n${heading}\n`);
  if (start === -1) throw new Error(`README.md has no "${heading}" section`);
  const level = heading.split(' ')[0] ?? '##';
  const next = text.indexOf(`\n${level} `, start + heading.length + 2);
  const section = text.slice(start, next === -1 ? undefined : next);
  return [...section.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1] ?? '');
}
