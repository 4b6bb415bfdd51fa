// Headline figures of one `npm run bench`: each bench script adds its own with summary(), and
// all.ts prints them side by side at the end against the targets they are held to.
import { appendFileSync, readFileSync } from 'node:fs';

export type Figures = Record<string, number>;

/** Records figures for the run's summary (a no-op when a script runs on its own). */
export function summary(figures: Figures): void {
  const file = process.env['KUBEFF_BENCH_SUMMARY'];
  if (file) appendFileSync(file, `${JSON.stringify(figures)}\n`);
}

export function readSummary(file: string): Figures {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  return Object.assign({}, ...text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Figures)) as Figures;
}
