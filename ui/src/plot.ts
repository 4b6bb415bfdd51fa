// Charts as SVG, drawn from numbers only (no chart library): per-frame quality lines and
// rate–quality points. Each plotted value is one SVG element or path vertex, so a test can count
// them.
import { svg } from './dom.ts';

export interface Series {
  name: string;
  values: number[];
  colour: string;
}

const W = 720;
const H = 240;
const pad = { l: 44, r: 12, t: 12, b: 28 };

function scale(min: number, max: number, from: number, to: number): (v: number) => number {
  const span = max - min || 1;
  return (v) => from + ((v - min) / span) * (to - from);
}

function axes(root: SVGSVGElement, xmin: number, xmax: number, ymin: number, ymax: number, xLabel: string): void {
  const x = scale(xmin, xmax, pad.l, W - pad.r);
  const y = scale(ymin, ymax, H - pad.b, pad.t);
  root.appendChild(svg('line', { x1: pad.l, y1: H - pad.b, x2: W - pad.r, y2: H - pad.b, stroke: '#8892a0' }));
  root.appendChild(svg('line', { x1: pad.l, y1: pad.t, x2: pad.l, y2: H - pad.b, stroke: '#8892a0' }));
  for (let i = 0; i <= 4; i++) {
    const v = ymin + ((ymax - ymin) * i) / 4;
    root.appendChild(svg('text', { x: pad.l - 4, y: y(v) + 4, 'text-anchor': 'end', 'font-size': 10, fill: '#5b6573' }, v.toFixed(ymax - ymin < 2 ? 3 : 1)));
  }
  for (let i = 0; i <= 4; i++) {
    const v = xmin + ((xmax - xmin) * i) / 4;
    root.appendChild(svg('text', { x: x(v), y: H - pad.b + 14, 'text-anchor': 'middle', 'font-size': 10, fill: '#5b6573' }, String(Math.round(v))));
  }
  root.appendChild(svg('text', { x: W - pad.r, y: H - 2, 'text-anchor': 'end', 'font-size': 10, fill: '#5b6573' }, xLabel));
}

/** One line per series over frame numbers, on its own y range. */
export function lineChart(series: Series, title: string): SVGSVGElement {
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title, 'data-series': series.name, 'data-points': series.values.length });
  root.appendChild(svg('title', {}, title));
  const vals = series.values;
  const lo = Math.min(...vals);
  const hi = Math.max(...vals);
  const ymin = lo === hi ? lo - 1 : lo - (hi - lo) * 0.05;
  const ymax = lo === hi ? hi + 1 : hi + (hi - lo) * 0.05;
  axes(root, 0, Math.max(1, vals.length - 1), ymin, ymax, 'frame');
  const x = scale(0, Math.max(1, vals.length - 1), pad.l, W - pad.r);
  const y = scale(ymin, ymax, H - pad.b, pad.t);
  const d = vals.map((v, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join('');
  root.appendChild(svg('path', { d, fill: 'none', stroke: series.colour, 'stroke-width': 1.5, class: 'series' }));
  return root;
}

/** Rate–quality points (bitrate in kbit/s against VMAF), joined in bitrate order. */
export function rateQualityChart(points: { kbps: number; vmaf: number; label: string }[], title: string): SVGSVGElement {
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title, 'data-points': points.length });
  root.appendChild(svg('title', {}, title));
  const sorted = [...points].sort((a, b) => a.kbps - b.kbps);
  const xs = sorted.map((p) => p.kbps);
  const ys = sorted.map((p) => p.vmaf);
  const xmin = Math.min(...xs) * 0.9;
  const xmax = Math.max(...xs) * 1.05;
  const ymin = Math.max(0, Math.min(...ys) - 3);
  const ymax = Math.min(100, Math.max(...ys) + 3);
  axes(root, xmin, xmax, ymin, ymax, 'kbit/s');
  const x = scale(xmin, xmax, pad.l, W - pad.r);
  const y = scale(ymin, ymax, H - pad.b, pad.t);
  root.appendChild(svg('path', { d: sorted.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.kbps).toFixed(1)},${y(p.vmaf).toFixed(1)}`).join(''), fill: 'none', stroke: '#9aa5b5' }));
  for (const p of sorted) {
    const c = svg('circle', { cx: x(p.kbps).toFixed(1), cy: y(p.vmaf).toFixed(1), r: 4, fill: '#2457c5', class: 'point' });
    c.appendChild(svg('title', {}, `${p.label}: ${Math.round(p.kbps)} kbit/s, VMAF ${p.vmaf.toFixed(2)}`));
    root.appendChild(c);
  }
  return root;
}

/** Mean, minimum, 1st/5th percentile and maximum of a metric. */
export function describe(values: number[]): { mean: number; min: number; p1: number; p5: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.floor(q * (sorted.length - 1))))] ?? NaN;
  return { mean: values.reduce((a, b) => a + b, 0) / values.length, min: sorted[0] ?? NaN, p1: at(0.01), p5: at(0.05), max: sorted.at(-1) ?? NaN };
}
