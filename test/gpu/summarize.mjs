// Reads what test/gpu/check.sh left in its work folder and writes $OUT/summary.json (facts, checks,
// verdict) and $OUT/jobs.log (each job's spec, exit code, result, output probe and last log lines).
// Plain JavaScript: it runs on the carried node with nothing else.
//
//   node summarize.mjs WORK OUT ELAPSED_S BUDGET_S      (exit 0: every check passed)
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [work, out, elapsedArg, budgetArg] = process.argv.slice(2);
if (!work || !out) {
  process.stderr.write('usage: summarize.mjs WORK OUT ELAPSED_S BUDGET_S\n');
  process.exit(2);
}
const read = (p) => (existsSync(p) ? readFileSync(p, 'utf8') : undefined);
const json = (p) => {
  const t = read(p);
  if (t === undefined) return undefined;
  try {
    return JSON.parse(t);
  } catch {
    return undefined;
  }
};

const steps = (read(join(work, 'steps.tsv')) ?? '')
  .split('\n')
  .filter(Boolean)
  .map((l) => {
    const [name, rc, seconds] = l.split('\t');
    return { name, rc: rc === 'skipped' ? 'skipped' : Number(rc), seconds: Number(seconds) };
  });

const gpuLine = (read(join(work, 'gpu-name.txt')) ?? '').trim().split('\n')[0] ?? '';
const [gpuName, driver] = gpuLine.split(',').map((s) => s.trim());
const devicePresent = ['/dev/nvidiactl', '/dev/nvidia0', '/proc/driver/nvidia/version'].some((p) => existsSync(p));
const caps = json(join(out, 'capabilities.json'));

/** Facts about one media file from ffprobe JSON. */
function media(probe) {
  if (!probe?.streams) return undefined;
  const v = probe.streams.find((s) => s.codec_type === 'video');
  const a = probe.streams.find((s) => s.codec_type === 'audio');
  return {
    format: probe.format?.format_name,
    durationSeconds: Number(probe.format?.duration),
    sizeBytes: Number(probe.format?.size),
    video: v ? { codec: v.codec_name, width: v.width, height: v.height, pixelFormat: v.pix_fmt, frames: Number(v.nb_frames), fps: v.avg_frame_rate } : undefined,
    audio: a ? { codec: a.codec_name, channels: a.channels, sampleRate: Number(a.sample_rate) } : undefined,
  };
}

/** One raw FFmpeg trial: exit status, the -benchmark line, the last error-looking line. */
function trial(name) {
  const log = read(join(work, 'probes', `${name}.log`));
  const rc = read(join(work, 'probes', `${name}.rc`));
  if (log === undefined) return { ran: false };
  const lines = log.split(/\r?\n/).filter((l) => l.trim());
  const bench = lines.find((l) => l.startsWith('bench: utime'));
  const rtime = bench ? Number(/rtime=([\d.]+)s/.exec(bench)?.[1]) : undefined;
  // The last few error-looking lines, without FFmpeg's generic closing line and object addresses.
  const errors = lines
    .filter((l) => /error|fail|cannot|unsupported|no .*device|not found|invalid|unloaded/i.test(l) && !/^Conversion failed!$/.test(l.trim()))
    .slice(-4)
    .map((l) => l.replace(/ @ 0x[0-9a-f]+\]/, ']').slice(0, 300));
  return { ran: true, exitCode: Number(rc), ok: Number(rc) === 0, ...(rtime !== undefined ? { seconds: rtime, fps: rtime > 0 ? Math.round(150 / rtime) : undefined } : {}), ...(errors.length ? { errors } : {}) };
}

const trials = Object.fromEntries(['nvenc-h264', 'nvenc-hevc', 'nvdec-hwaccel', 'cuvid-decoder', 'cpu-decode'].map((n) => [n, trial(n)]));

function jobFacts(name) {
  const events = (read(join(work, 'jobs', `${name}.events.jsonl`)) ?? '')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return undefined;
      }
    })
    .filter(Boolean);
  const stepRow = steps.find((s) => s.name === `job-${name}`);
  return {
    spec: json(join(work, 'jobs', `${name}.spec.json`)),
    exitCode: Number(read(join(work, 'jobs', `${name}.rc`)) ?? NaN),
    wallSeconds: stepRow?.seconds,
    result: json(join(work, 'jobs', `${name}.result.json`)),
    output: media(json(join(work, 'jobs', `${name}.ffprobe.json`))),
    outputExists: existsSync(join(work, 'storage', 'out', `${name}.mp4`)),
    stages: events.filter((e) => e.type === 'stage').map((e) => e.stage),
    progressEvents: events.filter((e) => e.type === 'progress').length,
    lastProgress: events.filter((e) => e.type === 'progress').at(-1),
    logTail: events.filter((e) => e.type === 'log').map((e) => e.line).slice(-25),
  };
}
const jobs = { auto: jobFacts('auto'), nvenc: jobFacts('nvenc'), none: jobFacts('none') };

// --- checks: what must hold here, derived from what the capability probe found ---------------
const checks = [];
const check = (name, ok, detail) => checks.push({ name, ok: Boolean(ok), detail });
const unpack = steps.find((s) => s.name === 'unpack');
check('carried binaries unpacked and run', unpack?.rc === 0, unpack);
const clip = media(json(join(work, 'clip.ffprobe.json')));
const clipStep = steps.find((s) => s.name === 'make-clip');
check('test clip made (1920x1080 h264, 5 s)', clipStep?.rc === 0 && clip?.video?.codec === 'h264' && clip.video.width === 1920 && Math.abs(clip.durationSeconds - 5) < 0.2, clip);
check('capability probe ran', caps !== undefined, caps ? `${caps.seconds}s` : 'no capabilities.json');
if (caps) {
  check('build lists the cuda hwaccel and NVENC encoders', caps.hwaccels.includes('cuda') && caps.nvencListed.includes('h264_nvenc'), { hwaccels: caps.hwaccels, nvencListed: caps.nvencListed });
  if (!devicePresent) {
    check('no NVIDIA device: reported as such, nothing counted as working', /no NVIDIA device is present/.test(caps.gpuNote) && !caps.nvdec && caps.workingNvenc.length === 0, caps.gpuNote);
  } else {
    check('NVDEC works on this GPU (worker probe)', caps.nvdec, caps.gpuNote);
    check('worker probe agrees with raw FFmpeg about NVENC', caps.workingNvenc.includes('h264_nvenc') === Boolean(trials['nvenc-h264'].ok), { workingNvenc: caps.workingNvenc, raw: trials['nvenc-h264'] });
    check('worker probe agrees with raw FFmpeg about NVDEC', caps.nvdec === Boolean(trials['nvdec-hwaccel'].ok), { nvdec: caps.nvdec, raw: trials['nvdec-hwaccel'] });
    if (/\b(H100|H200|H800|A100|A30|B200)\b/.test(gpuName ?? '')) {
      check(`no working NVENC on ${gpuName} (a GPU without NVENC)`, caps.workingNvenc.length === 0, caps.workingNvenc);
    }
  }
}
const nvencWorks = caps?.workingNvenc?.includes('h264_nvenc') ?? false;
const nvdecWorks = caps?.nvdec ?? false;
const goodOutput = (o) => o?.video?.codec === 'h264' && o.video.width === 1280 && o.video.height === 720 && Math.abs(o.durationSeconds - 5) < 0.25 && o.audio?.codec === 'aac';

const auto = jobs.auto;
const wantAuto = { decode: nvdecWorks ? 'nvdec' : 'cpu', encode: nvencWorks ? 'nvenc' : 'cpu' };
check('auto: completed, exit 0', auto.exitCode === 0 && auto.result?.status === 'completed', { exitCode: auto.exitCode, status: auto.result?.status, error: auto.result?.error });
check(`auto: decodes on ${wantAuto.decode}, encodes on ${wantAuto.encode}, and says so`, auto.result?.acceleration?.decode === wantAuto.decode && auto.result?.acceleration?.encode === wantAuto.encode, auto.result?.acceleration);
check('auto: output is h264 1280x720, 5 s, with AAC audio (ffprobe)', goodOutput(auto.output), auto.output);

const nv = jobs.nvenc;
if (nvencWorks) {
  check('nvenc: NVENC works here, so the job completes on NVENC', nv.exitCode === 0 && nv.result?.acceleration?.encode === 'nvenc', { exitCode: nv.exitCode, acceleration: nv.result?.acceleration, error: nv.result?.error });
  check('nvenc: output is h264 1280x720, 5 s (ffprobe)', goodOutput(nv.output), nv.output);
} else {
  const e = nv.result?.error;
  check('nvenc: refused with exit 69 (unavailable, never retried)', nv.exitCode === 69 && nv.result?.status === 'failed' && e?.retryable === false, { exitCode: nv.exitCode, status: nv.result?.status, retryable: e?.retryable });
  check('nvenc: the error says why', e?.code === 'UNSUPPORTED_CAPABILITY' && e?.field === 'options.hardware_acceleration' && /NVENC cannot be used here/.test(e?.message ?? ''), e);
  check('nvenc: no output written', !nv.outputExists, nv.outputExists);
}

const none = jobs.none;
check('none (CPU only): completed on the CPU', none.exitCode === 0 && none.result?.acceleration?.decode === 'cpu' && none.result?.acceleration?.encode === 'cpu', { exitCode: none.exitCode, acceleration: none.result?.acceleration, error: none.result?.error });
check('none: output is h264 1280x720, 5 s, with AAC audio (ffprobe)', goodOutput(none.output), none.output);

const elapsed = Number(elapsedArg);
check('every step finished inside the time budget', steps.every((s) => s.rc !== 'skipped' && s.rc !== 124 && s.rc !== 137) && elapsed <= Number(budgetArg), { elapsedSeconds: elapsed, budgetSeconds: Number(budgetArg) });

const failed = checks.filter((c) => !c.ok);
const summary = {
  ok: failed.length === 0,
  verdict: failed.length ? `${failed.length} of ${checks.length} checks failed: ${failed.map((c) => c.name).join('; ')}` : `all ${checks.length} checks passed`,
  machine: { nvidiaDevice: devicePresent, gpu: gpuName || null, driver: driver || null },
  capabilities: caps ?? null,
  rawFfmpeg: trials,
  jobs: Object.fromEntries(
    Object.entries(jobs).map(([k, j]) => [
      k,
      { requested: j.spec?.options?.hardwareAcceleration, exitCode: j.exitCode, wallSeconds: j.wallSeconds, status: j.result?.status, acceleration: j.result?.acceleration, error: j.result?.error, processingSeconds: j.result?.processingSeconds, output: j.output, lastProgress: j.lastProgress },
    ]),
  ),
  checks,
  steps,
  elapsedSeconds: elapsed,
};
writeFileSync(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);

const jobsLog = Object.entries(jobs)
  .map(([k, j]) =>
    [
      `===== job ${k}: exit ${j.exitCode}, ${j.wallSeconds}s`,
      `spec: ${JSON.stringify(j.spec)}`,
      `result: ${JSON.stringify(j.result)}`,
      `output (ffprobe): ${JSON.stringify(j.output)}`,
      `stages: ${j.stages.join(' > ')}; progress events: ${j.progressEvents}`,
      '--- last FFmpeg log lines ---',
      ...j.logTail,
    ].join('\n'),
  )
  .join('\n\n');
writeFileSync(join(out, 'jobs.log'), `${jobsLog}\n`);

process.stdout.write(`\nGPU: ${gpuName || '(no NVIDIA device)'}${driver ? `, driver ${driver}` : ''}\n`);
if (caps) process.stdout.write(`capabilities: hwaccels [${caps.hwaccels}], NVENC listed [${caps.nvencListed}], NVENC working [${caps.workingNvenc}], NVDEC ${caps.nvdec}; "${caps.gpuNote}"\n`);
for (const [k, j] of Object.entries(jobs)) {
  process.stdout.write(`job ${k}: exit ${j.exitCode} ${j.result?.status ?? '?'} ${JSON.stringify(j.result?.acceleration ?? j.result?.error ?? null)}\n`);
}
for (const c of checks) process.stdout.write(`${c.ok ? 'PASS' : 'FAIL'} ${c.name}\n`);
process.stdout.write(`${summary.verdict}\n`);
process.exit(summary.ok ? 0 : 1);
