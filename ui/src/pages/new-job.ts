// New jobs for the common cases: convert to a preset, an HLS/DASH ladder, a quality analysis.
// The server validates; each problem it names is shown at the field it names. Uploads show
// their progress (XMLHttpRequest: fetch reports no upload progress).
import { h, show } from '../dom.ts';
import { errorBanner, fieldProblems } from '../errors.ts';
import { client, savedKey } from '../session.ts';
import type { Page } from '../page.ts';

interface Field {
  /** The request field this input fills; a server problem at it, or below it, is shown here. */
  api: string;
  wrap: HTMLDivElement;
  input: HTMLInputElement | HTMLSelectElement;
  error: HTMLDivElement;
}

function field(api: string, label: string, input: HTMLInputElement | HTMLSelectElement, help?: string): Field {
  const id = `f-${api.replace(/[^a-z0-9]+/gi, '-')}`;
  input.id = id;
  input.name = api;
  const error = h('div', { class: 'error', id: `${id}-error`, role: 'alert' });
  input.setAttribute('aria-describedby', `${id}-error`);
  const wrap = h('div', { class: 'field', 'data-field': api }, h('label', { for: id }, label), input, help ? h('div', { class: 'muted' }, help) : null, error);
  return { api, wrap, input, error };
}

const text = (value = '', placeholder = '') => h('input', { type: 'text', value, placeholder, size: 48 });
const choose = (values: string[], value: string) => h('select', {}, ...values.map((v) => h('option', { value: v, selected: v === value }, v)));

type Kind = 'convert' | 'stream' | 'analyze';

export const newJobPage: Page = async (root, { query }) => {
  const kind = (['convert', 'stream', 'analyze'].includes(query.get('kind') ?? '') ? query.get('kind') : 'convert') as Kind;
  const banner = h('div');
  const forms: Record<Kind, Field[]> = {
    convert: [
      field('input', 'Input', text('', '/storage/uploads/... or s3://bucket/key or https://...')),
      field('output', 'Output format', choose(['mp4', 'webm', 'mov', 'mkv', 'mp3', 'm4a', 'gif'], 'mp4'), 'Written beside the input with this extension'),
      field('output.video.codec', 'Video codec', choose(['', 'h264', 'h265', 'vp9', 'av1'], '')),
      field('output.video.resolution', 'Resolution', text('', 'e.g. 720p or 1280x720')),
      field('output.video.crf', 'CRF (quality; lower is better)', h('input', { type: 'number', min: 0, max: 63, step: 1 })),
      field('output.video.preset', 'Preset', choose(['', 'ultrafast', 'veryfast', 'fast', 'medium', 'slow'], '')),
    ],
    stream: [
      field('input', 'Input', text('', '/storage/uploads/...')),
      field('output', 'Output folder', text('', '/storage/output/stream')),
      field('type', 'Format', choose(['hls', 'dash'], 'hls')),
      field('variants', 'Ladder', text('1080p:5M, 720p:2.5M, 480p:1M'), 'resolution:bitrate pairs, or "auto" to build it from the content'),
      field('segment_duration', 'Segment seconds', h('input', { type: 'number', min: 1, max: 60, value: 6 })),
    ],
    analyze: [
      field('input', 'Encoded file', text('', '/storage/output/video.mp4')),
      field('reference', 'Reference (original)', text('', '/storage/input/video.mp4')),
      field('metrics', 'Metrics', text('vmaf, psnr, ssim'), 'Comma-separated: vmaf, psnr, ssim'),
    ],
  };
  const fields = forms[kind];
  const submit = h('button', { type: 'submit' }, `Create ${kind} job`);
  const form = h('form', { class: 'card', id: 'new-job-form', novalidate: true }, ...fields.map((f) => f.wrap), submit);

  const value = (api: string) => fields.find((f) => f.api === api)?.input.value.trim() ?? '';
  const body = (): Record<string, unknown> => {
    if (kind === 'convert') {
      const video: Record<string, unknown> = {};
      if (value('output.video.codec')) video['codec'] = value('output.video.codec');
      if (value('output.video.resolution')) video['resolution'] = value('output.video.resolution');
      if (value('output.video.crf')) video['crf'] = Number(value('output.video.crf'));
      if (value('output.video.preset')) video['preset'] = value('output.video.preset');
      const input = value('input');
      // Without a path the server writes beside the input, as for the "mp4" shorthand.
      return { input, output: Object.keys(video).length === 0 ? value('output') : { format: value('output'), video } };
    }
    if (kind === 'stream') {
      const ladder = value('variants');
      const variants = ladder.toLowerCase() === 'auto' ? 'auto' : ladder.split(',').map((s) => s.trim()).filter(Boolean).map((pair) => {
        const [resolution, bitrate] = pair.split(':').map((x) => x.trim());
        return { resolution, bitrate };
      });
      const seg = value('segment_duration');
      return { input: value('input'), output: value('output'), type: value('type'), variants, ...(seg ? { segment_duration: Number(seg) } : {}) };
    }
    return { input: value('input'), reference: value('reference'), metrics: value('metrics').split(',').map((s) => s.trim()).filter(Boolean) };
  };

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    banner.replaceChildren();
    for (const f of fields) {
      f.error.textContent = '';
      f.wrap.classList.remove('invalid');
      f.input.removeAttribute('aria-invalid');
    }
    submit.disabled = true;
    const c = client();
    const send = kind === 'convert' ? c.convert(body() as Parameters<typeof c.convert>[0]) : kind === 'stream' ? c.stream(body() as Parameters<typeof c.stream>[0]) : c.analyze(body() as Parameters<typeof c.analyze>[0]);
    send.then((job) => {
      location.hash = `#/jobs/${job.id}`;
    }, (err: unknown) => {
      submit.disabled = false;
      const problems = fieldProblems(err);
      const unplaced: string[] = [];
      let first: Field | undefined;
      for (const p of problems) {
        // The field itself, or the nearest field above it (variants[1].bitrate -> variants).
        const f = fields.filter((x) => p.field === x.api || p.field.startsWith(`${x.api}.`) || p.field.startsWith(`${x.api}[`)).sort((a, b) => b.api.length - a.api.length)[0];
        if (!f) {
          unplaced.push(`${p.field}: ${p.message}`);
          continue;
        }
        f.error.textContent = [f.error.textContent, `${p.field === f.api ? '' : `${p.field}: `}${p.message}${p.suggestion ? ` (${p.suggestion})` : ''}`].filter(Boolean).join('; ');
        f.wrap.classList.add('invalid');
        f.input.setAttribute('aria-invalid', 'true');
        first ??= f;
      }
      if (problems.length === 0 || unplaced.length) banner.replaceChildren(problems.length === 0 ? errorBanner(err) : h('div', { class: 'banner error', role: 'alert' }, unplaced.join('; ')));
      first?.input.focus();
    });
  });

  show(root,
    h('h1', {}, 'New job'),
    h('nav', { class: 'filters', 'aria-label': 'Kind of job' }, ...(['convert', 'stream', 'analyze'] as const).map((k) => (k === kind ? h('strong', {}, k) : h('a', { href: `#/new?kind=${k}` }, k)))),
    uploadCard((path) => {
      const input = fields.find((f) => f.api === 'input')?.input;
      if (input) input.value = path;
    }),
    banner,
    form,
  );
};

/** Upload a file into storage with a progress bar; the stored path fills the job's input. */
function uploadCard(onDone: (path: string) => void): HTMLElement {
  const file = h('input', { type: 'file', id: 'upload-file', accept: 'video/*,audio/*,image/*' });
  const bar = h('progress', { id: 'upload-progress', max: 100, value: 0, hidden: true, 'aria-label': 'upload progress' });
  const status = h('p', { id: 'upload-status', 'aria-live': 'polite' });
  const button = h('button', { type: 'button', class: 'secondary' }, 'Upload');
  button.addEventListener('click', () => {
    const f = file.files?.[0];
    if (!f) {
      status.textContent = 'Choose a file first.';
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/v1/files?filename=${encodeURIComponent(f.name)}`);
    xhr.setRequestHeader('X-API-Key', savedKey() ?? '');
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    bar.hidden = false;
    button.disabled = true;
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) bar.value = (100 * e.loaded) / e.total;
    });
    xhr.addEventListener('loadend', () => {
      button.disabled = false;
      let parsed: { file?: { path: string }; error?: { message: string } } = {};
      try {
        parsed = JSON.parse(xhr.responseText) as typeof parsed;
      } catch {
        // Not JSON: reported below by status.
      }
      if (xhr.status === 201 && parsed.file) {
        bar.value = 100;
        status.textContent = `Uploaded: ${parsed.file.path}`;
        onDone(parsed.file.path);
      } else {
        status.textContent = `Upload refused: ${parsed.error?.message ?? `HTTP ${xhr.status}`}`;
      }
    });
    xhr.send(f);
  });
  return h('div', { class: 'card' }, h('h2', {}, 'Upload'), h('label', { for: 'upload-file' }, 'Media file'), file, ' ', button, bar, status);
}
