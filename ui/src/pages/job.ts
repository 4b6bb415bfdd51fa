// One job: what was asked (the canonical spec), where it is (timeline, live progress, log tail),
// what came out (outputs with sizes and codecs, played or shown in the page), how good it is
// (analyze plots, target-VMAF and per-title rate–quality charts), and what went wrong (the error
// with its field and suggestion). Cancel and webhook redelivery act on it.
import type { Job } from '../../../sdk/src/index.ts';
import { bytes, h, show, statusBadge, when, type Child } from '../dom.ts';
import { errorBanner, errorText } from '../errors.ts';
import { follow } from '../live.ts';
import { fileText, hlsPlayer, imageView, videoPlayer } from '../media.ts';
import { describe, lineChart, rateQualityChart } from '../plot.ts';
import { client } from '../session.ts';
import type { Page } from '../page.ts';

type Output = Job['outputs'][number];

const finished = (s: string) => s === 'completed' || s === 'failed' || s === 'cancelled';

export const jobPage: Page = async (root, { id }, signal) => {
  if (!id) throw new Error('no job id');
  let job = await client().jobs.get(id, { signal });
  const bar = h('progress', { id: 'job-progress', max: 100, value: job.progress, 'aria-label': 'progress' });
  const pct = h('span', { id: 'job-percent' }, `${Math.round(job.progress)} %`);
  const badge = h('span', { id: 'job-status' }, statusBadge(job.status));
  const stage = h('span', { id: 'job-stage' }, `stage: ${job.stage}`);
  const notice = h('div');
  const actions = h('div', { class: 'actions' });
  const timeline = h('ol', { class: 'timeline', id: 'timeline' });
  const logs = h('pre', { id: 'log-tail', 'aria-label': 'FFmpeg log', tabindex: 0 });
  const outputs = h('div', { id: 'outputs' });
  const quality = h('div', { id: 'quality' });
  const failure = h('div', { id: 'job-error' });
  const webhooks = h('div', { id: 'webhooks' });

  show(root,
    h('p', {}, h('a', { href: '#/jobs' }, '← Jobs')),
    h('h1', {}, `${job.type} job `, h('code', {}, job.id)),
    notice,
    h('div', { class: 'card' },
      h('div', { class: 'stats' }, badge, stage, h('span', {}, `priority: ${job.priority}`)),
      h('div', { class: 'progress-cell' }, bar, pct),
      actions,
    ),
    failure,
    h('h2', {}, 'Outputs'), outputs,
    quality,
    h('h2', {}, 'Timeline'), h('div', { class: 'card' }, timeline),
    h('h2', {}, 'Log'), logs,
    h('h2', {}, 'Spec'), h('pre', { id: 'job-spec' }, JSON.stringify(job.spec, null, 2)),
    h('h2', {}, 'Webhooks'), webhooks,
  );

  const renderActions = () => {
    const list: Child[] = [];
    if (!finished(job.status)) {
      list.push(h('button', {
        type: 'button', class: 'danger', id: 'cancel',
        onclick: () => {
          client().jobs.cancel(job.id).then((j) => render(j), (err: unknown) => notice.replaceChildren(errorBanner(err)));
        },
      }, 'Cancel job'));
    }
    show(actions, ...list);
  };

  const renderTimeline = () => {
    const steps: [string, string | null | undefined][] = [['queued', job.created_at], ['started', job.started_at], [job.status === 'completed' ? 'completed' : job.status === 'failed' ? 'failed' : job.status === 'cancelled' ? 'cancelled' : 'finished', job.completed_at]];
    show(timeline,
      ...steps.map(([name, at]) => h('li', { class: at ? 'done' : '' }, `${name}: ${when(at)}`)),
      h('li', {}, `attempts: ${job.attempts}`),
      job.chunks ? h('li', {}, `chunks: ${job.chunks.completed} of ${job.chunks.total} done${job.chunks.failed ? `, ${job.chunks.failed} attempts failed` : ''}`) : null,
      job.acceleration ? h('li', {}, `decode ${job.acceleration.decode}, encode ${job.acceleration.encode}: ${job.acceleration.reason}`) : null,
    );
  };

  const renderError = () => {
    if (!job.error) return failure.replaceChildren();
    const e = job.error as Record<string, unknown> & { code: string; message: string };
    const details = (e['details'] ?? {}) as Record<string, unknown>;
    show(failure, h('div', { class: 'banner error', role: 'alert' },
      h('strong', {}, e.code), ': ', e.message,
      typeof e['field'] === 'string' ? h('div', {}, 'field: ', h('code', {}, String(e['field']))) : null,
      typeof details['suggestion'] === 'string' ? h('div', {}, 'suggestion: ', String(details['suggestion'])) : null,
      details['expected'] !== undefined ? h('div', {}, `expected ${String(details['expected'])}, found ${String(details['found'])}`) : null,
    ));
  };

  let shownOutputs = '';
  const renderOutputs = async () => {
    const key = JSON.stringify(job.outputs.map((o) => o.path));
    if (key === shownOutputs) return;
    shownOutputs = key;
    if (job.outputs.length === 0) return show(outputs, h('p', {}, finished(job.status) ? 'No outputs.' : 'Not yet.'));
    const rows = job.outputs.map((o) => h('tr', {},
      h('td', {}, h('code', {}, o.path)),
      h('td', {}, o.role),
      h('td', { class: 'num' }, bytes(o.sizeBytes)),
      h('td', { class: 'optional' }, [o.format, o.videoCodec, o.audioCodec].filter(Boolean).join(' · ') || '—'),
      h('td', { class: 'optional num' }, o.width ? `${o.width}×${o.height}` : '—'),
      h('td', { class: 'optional num' }, o.durationSeconds !== undefined ? `${o.durationSeconds.toFixed(2)} s` : '—'),
    ));
    const viewers = h('div', { id: 'viewers' });
    show(outputs, h('div', { class: 'card' }, h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'Path'), h('th', {}, 'Role'), h('th', {}, 'Size'), h('th', { class: 'optional' }, 'Format'), h('th', { class: 'optional' }, 'Size (px)'), h('th', { class: 'optional' }, 'Duration'))),
      h('tbody', {}, ...rows),
    )), viewers);
    if (job.status === 'completed') await showViewers(job.outputs, viewers, signal);
  };

  const renderQuality = async () => {
    quality.replaceChildren();
    if (job.status !== 'completed') return;
    const parts: Child[] = [];
    const metricsFile = job.outputs.find((o) => o.role === 'metrics');
    if (job.type === 'analyze' && metricsFile) {
      try {
        const report = JSON.parse(await fileText(metricsFile.path, signal)) as { frames: Record<string, number>[] };
        for (const [name, colour] of [['vmaf', '#2457c5'], ['psnr', '#1a7f45'], ['ssim', '#9a6700']] as const) {
          const values = report.frames.map((f) => f[name]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
          if (values.length === 0) continue;
          const d = describe(values);
          parts.push(h('div', { class: 'card plot', 'data-metric': name },
            h('h3', {}, name.toUpperCase()),
            h('div', { class: 'stats' }, ...(['mean', 'min', 'p1', 'p5', 'max'] as const).map((k) => h('span', {}, `${k === 'p1' ? '1st pct' : k === 'p5' ? '5th pct' : k} ${d[k].toFixed(name === 'ssim' ? 4 : 2)}`))),
            lineChart({ name, values, colour }, `${name.toUpperCase()} per frame (${values.length} frames)`),
          ));
        }
      } catch (err) {
        parts.push(errorBanner(err));
      }
    }
    const tv = job.quality?.targetVmaf;
    if (tv && tv.probes.some((p) => p.bitrate)) {
      parts.push(h('div', { class: 'card plot', 'data-chart': 'target-vmaf' },
        h('h3', {}, `Target VMAF ${tv.target}: CRF ${tv.crf} chosen (predicted ${tv.predictedVmaf.toFixed(2)}${tv.measured ? `, measured ${tv.measured.mean.toFixed(2)}` : ''})`),
        rateQualityChart(tv.probes.filter((p) => p.bitrate).map((p) => ({ kbps: (p.bitrate ?? 0) / 1000, vmaf: p.vmaf, label: `CRF ${p.crf}` })), 'Search trials: bitrate against VMAF'),
      ));
    }
    const ladder = job.quality?.ladder;
    if (ladder && ladder.length > 0) {
      parts.push(h('div', { class: 'card plot', 'data-chart': 'ladder' },
        h('h3', {}, `Per-title ladder: ${ladder.length} rungs`),
        rateQualityChart(ladder.map((r) => ({ kbps: r.bitrate / 1000, vmaf: r.vmaf, label: `${r.name} ${r.width}×${r.height}` })), 'Ladder rungs: bitrate against VMAF'),
      ));
    }
    if (parts.length) show(quality, h('h2', {}, 'Quality'), ...parts);
  };

  const renderWebhooks = async () => {
    try {
      const list = await client().jobs.webhooks(job.id, {}, { signal });
      if (list.deliveries.length === 0) return show(webhooks, h('p', {}, 'No webhook deliveries.'));
      show(webhooks, h('div', { class: 'card' }, h('table', {},
        h('thead', {}, h('tr', {}, h('th', {}, 'Event'), h('th', {}, 'State'), h('th', {}, 'Attempts'), h('th', {}, ''))),
        h('tbody', {}, ...list.deliveries.map((d) => h('tr', {},
          h('td', {}, d.event), h('td', {}, d.state), h('td', { class: 'num' }, d.attempts),
          h('td', {}, h('button', {
            type: 'button', class: 'secondary',
            onclick: () => client().jobs.redeliver(job.id, d.id).then(() => void renderWebhooks(), (err: unknown) => notice.replaceChildren(errorBanner(err))),
          }, 'Redeliver')),
        ))),
      )));
    } catch (err) {
      show(webhooks, h('p', {}, errorText(err)));
    }
  };

  const render = (next: Job) => {
    const wasFinished = finished(job.status);
    job = next;
    bar.value = job.progress;
    pct.textContent = `${Math.round(job.progress)} %`;
    badge.replaceChildren(statusBadge(job.status));
    stage.textContent = `stage: ${job.stage}`;
    renderActions();
    renderTimeline();
    renderError();
    void renderOutputs();
    if (!wasFinished && finished(job.status)) {
      void renderQuality();
      void renderWebhooks();
    }
  };

  renderActions();
  renderTimeline();
  renderError();
  await renderOutputs();
  void renderQuality();
  void renderWebhooks();
  try {
    const tail = await client().jobs.logs(job.id, { lines: 200 }, { signal });
    logs.textContent = tail.lines.join('\n');
  } catch {
    logs.textContent = '';
  }

  if (!finished(job.status)) {
    follow(job.id, {
      progress: (p, data) => {
        bar.value = p;
        pct.textContent = `${Math.round(p)} %`;
        if (typeof data['stage'] === 'string') stage.textContent = `stage: ${data['stage']}`;
      },
      status: (s) => badge.replaceChildren(statusBadge(s)),
      log: (line) => {
        logs.textContent = `${logs.textContent ?? ''}${logs.textContent ? '\n' : ''}${line}`.split('\n').slice(-200).join('\n');
        logs.scrollTop = logs.scrollHeight;
      },
      final: () => {
        client().jobs.get(job.id, { signal }).then(render, () => undefined);
      },
    }, signal, { logs: true });
  }
};

/** Players and images for the outputs a browser can show. */
async function showViewers(list: Output[], into: HTMLElement, signal: AbortSignal): Promise<void> {
  const items: Child[] = [];
  for (const o of list) {
    try {
      if (o.role === 'media' && /\.(mp4|webm|mov|m4a|mp3|ogg|wav)$/i.test(o.path) && o.videoCodec !== undefined) items.push(h('figure', {}, await videoPlayer(o.path, signal), h('figcaption', {}, o.path)));
      else if (o.role === 'playlist' && /master\.m3u8$/.test(o.path)) items.push(h('figure', {}, await hlsPlayer(o.path, signal), h('figcaption', {}, o.path)));
      else if ((o.role === 'image' || o.role === 'sprite-map') && /\.(jpe?g|png|webp|gif)$/i.test(o.path)) items.push(h('figure', {}, await imageView(o.path, signal, o.path), h('figcaption', {}, o.path)));
      else if (/\.vtt$/i.test(o.path)) items.push(h('details', {}, h('summary', {}, `WebVTT map ${o.path}`), h('pre', {}, await fileText(o.path, signal))));
    } catch (err) {
      items.push(errorBanner(err));
    }
    if (items.length >= 12) break;
  }
  if (items.length) show(into, h('div', { class: 'card' }, ...items));
}
