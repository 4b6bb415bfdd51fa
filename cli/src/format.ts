// What the CLI reads from the API, and how it shows it to a person. The shapes are declared here
// (loosely, every field optional) rather than imported from the server's schemas: the CLI may talk
// to another kubeff version or to another Rendiff-compatible server, and must not crash on a field
// it does not know or one that is missing.
import { formatSeconds } from './progress.ts';

export interface OutputFileView {
  path: string;
  role?: string;
  sizeBytes?: number;
  format?: string;
  durationSeconds?: number;
  videoCodec?: string;
  audioCodec?: string;
  width?: number;
  height?: number;
  fps?: number;
}

export interface MetricView {
  mean: number;
  min?: number;
  max?: number;
}

export interface JobView {
  id: string;
  type?: string;
  status: string;
  progress?: number;
  stage?: string;
  created_at?: string;
  started_at?: string | null;
  completed_at?: string | null;
  input?: string;
  output?: string | null;
  outputs?: OutputFileView[];
  metrics?: { vmaf?: MetricView; psnr?: MetricView; ssim?: MetricView; frames?: number; perFramePath?: string; [k: string]: unknown } | null;
  error?: { code?: string; message?: string; field?: string; retryable?: boolean } | null;
  acceleration?: { decode?: string; encode?: string; reason?: string } | null;
  attempts?: number;
}

export interface KeyView {
  id: string;
  name: string;
  scope: string;
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

function describeOutput(o: OutputFileView): string {
  const facts: string[] = [];
  if (o.role && o.role !== 'media') facts.push(o.role);
  // ffprobe's format names come as lists ("mov,mp4,m4a,..."): the path's extension says it better.
  if (o.format && !o.format.includes(',')) facts.push(o.format);
  const codecs = [o.videoCodec, o.audioCodec].filter(Boolean).join('/');
  if (codecs) facts.push(codecs);
  if (o.width && o.height) facts.push(`${o.width}x${o.height}`);
  if (o.fps) facts.push(`${Math.round(o.fps * 100) / 100} fps`);
  if (o.durationSeconds !== undefined) facts.push(`${o.durationSeconds.toFixed(2)} s`);
  if (o.sizeBytes !== undefined) facts.push(formatBytes(o.sizeBytes));
  return facts.length ? `${o.path}  (${facts.join(', ')})` : o.path;
}

function describeMetric(name: string, m: MetricView): string {
  const range = m.min !== undefined && m.max !== undefined ? ` (min ${round(m.min)}, max ${round(m.max)})` : '';
  return `${name} ${round(m.mean)}${range}`;
}

const round = (n: number) => String(Math.round(n * 1000) / 1000);

function elapsed(j: JobView): string | undefined {
  if (!j.started_at || !j.completed_at) return undefined;
  const ms = Date.parse(j.completed_at) - Date.parse(j.started_at);
  return Number.isFinite(ms) && ms >= 0 ? (ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : formatSeconds(ms / 1000)) : undefined;
}

/** A job for a person: status line, input, every output, metrics, error. */
export function describeJob(j: JobView): string {
  const took = elapsed(j);
  const head = `job ${j.id}${j.type ? ` (${j.type})` : ''} ${j.status}${took && j.status === 'completed' ? ` in ${took}` : ''}` +
    (j.status === 'processing' || j.status === 'queued' ? ` ${(j.progress ?? 0).toFixed(1)}%${j.stage ? ` ${j.stage}` : ''}` : '');
  const lines = [head];
  if (j.input) lines.push(`  input:   ${j.input}`);
  const outputs = j.outputs ?? [];
  if (outputs.length > 0) for (const o of outputs) lines.push(`  output:  ${describeOutput(o)}`);
  else if (j.output) lines.push(`  output:  ${j.output}${j.status === 'completed' ? '' : j.status === 'failed' || j.status === 'cancelled' ? ' (not written)' : ' (planned)'}`);
  const m = j.metrics;
  if (m) {
    const parts: string[] = [];
    if (m.vmaf) parts.push(describeMetric('vmaf', m.vmaf));
    if (m.psnr) parts.push(describeMetric('psnr', m.psnr));
    if (m.ssim) parts.push(describeMetric('ssim', m.ssim));
    if (m.frames !== undefined) parts.push(`${m.frames} frames`);
    if (parts.length) lines.push(`  metrics: ${parts.join('; ')}`);
    if (m.perFramePath) lines.push(`  per-frame metrics: ${m.perFramePath}`);
  }
  if (j.acceleration?.encode && j.acceleration.encode !== 'cpu') lines.push(`  acceleration: decode ${j.acceleration.decode ?? '?'}, encode ${j.acceleration.encode}`);
  if (j.error && j.status !== 'completed') {
    lines.push(`  error:   ${j.error.code ? `${j.error.code}: ` : ''}${j.error.message ?? ''}`);
    if (j.error.field) lines.push(`  field:   ${j.error.field}`);
  }
  return lines.join('\n') + '\n';
}

export function keysTable(keys: KeyView[]): string {
  return table(
    ['ID', 'NAME', 'SCOPE', 'STATUS', 'CREATED', 'LAST USED'],
    keys.map((k) => [k.id, k.name, k.scope, k.revoked_at ? `revoked ${k.revoked_at.slice(0, 10)}` : 'active', k.created_at.replace(/\.\d+Z$/, 'Z'), k.last_used_at?.replace(/\.\d+Z$/, 'Z') ?? '-']),
  );
}

export function jobsTable(jobs: JobView[]): string {
  return table(
    ['ID', 'TYPE', 'STATUS', 'PROGRESS', 'CREATED', 'INPUT', 'OUTPUT'],
    jobs.map((j) => [j.id, j.type ?? '', j.status, `${(j.status === 'completed' ? 100 : (j.progress ?? 0)).toFixed(1)}%`, (j.created_at ?? '').replace(/\.\d+Z$/, 'Z'), j.input ?? '', j.output ?? '']),
  );
}

/** A value quoted for POSIX sh (and so for `source`/`eval`): single quotes, with ' written as '\''. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
