// Peak memory while something runs: for tests that stream large bodies and must stay flat.
import { runInNewContext } from 'node:vm';
import v8 from 'node:v8';

const MiB = 1024 * 1024;

/**
 * The garbage collector, so a measurement starts from live memory only. --expose-gc set at run
 * time takes effect in a context created afterwards.
 */
v8.setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Peak RSS growth over a baseline while fn runs, sampled every 10 ms. */
export async function peakRssGrowth<T>(fn: () => Promise<T>): Promise<{ result: T; growthMiB: number; baselineMiB: number; peakMiB: number }> {
  collectGarbage();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  try {
    const result = await fn();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, growthMiB: (peak - baseline) / MiB, baselineMiB: baseline / MiB, peakMiB: peak / MiB };
  } finally {
    clearInterval(timer);
  }
}
