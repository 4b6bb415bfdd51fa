// The worker's own capability probe (worker-image/src/capabilities.ts), run alone and printed as
// JSON: what the FFmpeg build lists and what this machine really does with it (a real NVENC
// encode per listed NVENC encoder and a real CUDA decode when an NVIDIA device is present).
// Bundled by test/gpu/prepare.sh into .gpu/caps.mjs for test/gpu/check.sh.
//
//   node caps.mjs /path/to/ffmpeg
import { capabilities } from '../../worker-image/src/capabilities.ts';

const ffmpeg = process.argv[2] ?? process.env['FFMPEG_PATH'] ?? 'ffmpeg';
const started = performance.now();
const c = await capabilities(ffmpeg);
const listed = (names: Iterable<string>, re: RegExp) => [...names].filter((n) => re.test(n)).sort();
process.stdout.write(
  `${JSON.stringify(
    {
      ffmpeg: c.ffmpeg,
      version: c.version,
      hwaccels: [...c.hwaccels].sort(),
      nvencListed: listed(c.encoders, /_nvenc$/),
      cpuVideoEncoders: listed(c.encoders, /^lib(x264|x265|vpx|svtav1|aom)/),
      gpuFilters: listed(c.filters, /cuda|hwupload|hwdownload|npp/),
      workingNvenc: [...c.workingNvenc].sort(),
      nvdec: c.nvdec,
      gpuNote: c.gpuNote,
      statsPeriod: c.statsPeriod,
      seconds: Math.round(performance.now() - started) / 1000,
    },
    null,
    2,
  )}\n`,
);
