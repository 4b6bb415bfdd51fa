// Parsers of what an FFmpeg build reports about itself: encoders, filters, hwaccels, libvmaf style.
import { describe, expect, it } from 'vitest';
import { parseHwaccels, parseListing, parseVmafStyle } from '../../worker-image/src/capabilities.ts';

// `ffmpeg -hide_banner -encoders` (FFmpeg 5.1 / 6.x / 7.x layout), abridged.
const encodersText = `Encoders:
 V..... = Video
 A..... = Audio
 S..... = Subtitle
 .F.... = Frame-level multithreading
 ..S... = Slice-level multithreading
 ...X.. = Codec is experimental
 ....B. = Supports draw_horiz_band
 .....D = Supports direct rendering method 1
 ------
 V....D a64multi             Multicolor charset for Commodore 64 (codec a64_multi)
 V..... gif                  GIF (Graphics Interchange Format)
 V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (codec h264)
 V....D h264_nvenc           NVIDIA NVENC H.264 encoder (codec h264)
 V....D libx265              libx265 H.265 / HEVC (codec hevc)
 V....D hevc_nvenc           NVIDIA NVENC hevc encoder (codec hevc)
 V....D libvpx-vp9           libvpx VP9 (codec vp9)
 V....D libaom-av1           libaom AV1 (codec av1)
 V..... libsvtav1            SVT-AV1(Scalable Video Technology for AV1) encoder (codec av1)
 VFS..D mpeg4                MPEG-4 part 2
 V.S... mjpeg                MJPEG (Motion JPEG)
 A..... aac                  AAC (Advanced Audio Coding)
 A....D libmp3lame           libmp3lame MP3 (MPEG audio layer 3) (codec mp3)
 A..... libopus              libopus Opus (codec opus)
 A..X.. opus                 Opus
 A..... pcm_s16le            PCM signed 16-bit little-endian
 S..... ass                  ASS (Advanced SubStation Alpha) subtitle
 S..... webvtt               WebVTT subtitle
`;

// `ffmpeg -hide_banner -filters`, abridged: flags column (T, S, C), name, pads, description.
const filtersText = `Filters:
  T.. = Timeline support
  .S. = Slice threading
  ..C = Command support
  A = Audio input/output
  V = Video input/output
  N = Dynamic number and/or type of input/output
  | = Source or sink filter
 ... abench            A->A       Benchmark part of a filtergraph.
 ..C acompressor       A->A       Audio compressor.
 ... loudnorm          A->A       EBU R128 loudness normalization
 ..C amix              N->A       Audio mixing.
 TSC overlay           VV->V      Overlay a video source on top of the input.
 TS. psnr              VV->V      Calculate the PSNR between two video streams.
 TS. ssim              VV->V      Calculate the SSIM between two video streams.
 ... libvmaf           VV->V      Calculate the VMAF between two video streams.
 ..C scale             V->V       Scale the input video size and/or convert the image format.
 ... split             V->N       Pass on the input to N video outputs.
 ... palettegen        V->V       Find the optimal palette for a given stream.
 ... paletteuse        VV->V      Use a palette to downsample an input video stream.
 ... nullsink          V->|       Do absolutely nothing with the input video.
 ... buffer            |->V       Buffer video frames, and make them accessible to the filterchain.
`;

// `ffmpeg -hide_banner -hwaccels` on a build with CUDA.
const hwaccelsText = `Hardware acceleration methods:
vdpau
cuda
vaapi
qsv
drm
opencl
vulkan

`;

// `ffmpeg -hide_banner -h filter=libvmaf`, libvmaf 1.x (FFmpeg 4.x): only model_path.
const vmaf1Help = `Filter libvmaf
  Calculate the VMAF between two video streams.
    slice threading supported
    Inputs:
       #0: main (video)
       #1: reference (video)
    Outputs:
       #0: default (video)
libvmaf AVOptions:
  model_path        <string>     ..FV..... Set the model to be used for computing vmaf. (default "/usr/local/share/model/vmaf_v0.6.1.pkl")
  log_path          <string>     ..FV..... Set the file path to be used to store logs.
  log_fmt           <string>     ..FV..... Set the format of the log (xml or json).
  enable_transform  <boolean>    ..FV..... Enables transform for computing vmaf. (default false)
  phone_model       <boolean>    ..FV..... Invokes the phone model that will generate higher VMAF scores. (default false)
  psnr              <boolean>    ..FV..... Enables computing psnr along with vmaf. (default false)
  ssim              <boolean>    ..FV..... Enables computing ssim along with vmaf. (default false)
  pool              <string>     ..FV..... Set the pool method to be used for computing vmaf.
  n_threads         <int>        ..FV..... Set number of threads to be used when computing vmaf. (from 0 to UINT32_MAX) (default 0)

This filter has support for timeline through the 'enable' option.
`;

// libvmaf 2.x (FFmpeg 5.x/6.x): model plus the deprecated model_path.
const vmaf2Help = `Filter libvmaf
  Calculate the VMAF between two video streams.
    Inputs:
       #0: main (video)
       #1: reference (video)
    Outputs:
       #0: default (video)
libvmaf AVOptions:
   model_path        <string>     ..FV....... use model='path=...'. (deprecated)
   log_path          <string>     ..FV....... Set the file path to be used to write log.
   log_fmt           <string>     ..FV....... Set the format of the log (csv, json, xml, or sub). (default "xml")
   enable_transform  <boolean>    ..FV....... use model='enable_transform=true'. (default false) (deprecated)
   n_threads         <int>        ..FV....... Set number of threads to be used when computing vmaf. (from 0 to UINT32_MAX) (default 0)
   n_subsample       <int>        ..FV....... Set interval for frame subsampling used when computing vmaf. (from 1 to UINT32_MAX) (default 1)
   model             <string>     ..FV....... Set the model to be used for computing vmaf. (default "version=vmaf_v0.6.1")
   feature           <string>     ..FV....... Set the feature to be used for computing vmaf.

framesync AVOptions:
   eof_action        <int>        ..FV....... Action to take when encountering EOF from secondary input  (from 0 to 2) (default repeat)
`;

// FFmpeg 7.x with libvmaf 3.x: model_path is gone.
const vmaf3Help = `libvmaf AVOptions:
   log_path          <string>     ..FV....... Set the file path to be used to write log.
   log_fmt           <string>     ..FV....... Set the format of the log (csv, json, xml, or sub). (default "xml")
   n_threads         <int>        ..FV....... Set number of threads to be used when computing vmaf. (from 0 to UINT32_MAX) (default 0)
   model             <string>     ..FV....... Set the model to be used for computing vmaf. (default "version=vmaf_v0.6.1")
`;

describe('parseListing (encoders)', () => {
  const encoders = parseListing(encodersText, 'encoders');

  it.each(['libx264', 'libx265', 'h264_nvenc', 'hevc_nvenc', 'libvpx-vp9', 'libaom-av1', 'libsvtav1', 'gif', 'mjpeg', 'mpeg4', 'aac', 'libmp3lame', 'libopus', 'opus', 'pcm_s16le', 'ass'])(
    'finds %s',
    (name) => {
      expect(encoders.has(name), `${name} is listed but was not parsed`).toBe(true);
    },
  );

  it('takes only encoder names: nothing from the legend, the header or the descriptions', () => {
    const expectedNames = [
      'a64multi', 'gif', 'libx264', 'h264_nvenc', 'libx265', 'hevc_nvenc', 'libvpx-vp9', 'libaom-av1', 'libsvtav1', 'mpeg4', 'mjpeg',
      'aac', 'libmp3lame', 'libopus', 'opus', 'pcm_s16le', 'ass', 'webvtt',
    ];
    // The legend lines " V..... = Video" have the shape of an entry; '=' is not an encoder.
    expect(encoders.has('='), "the legend line ' V..... = Video' was parsed as an encoder named '='").toBe(false);
    expect([...encoders].sort()).toEqual([...expectedNames].sort());
  });

  it('finds nothing in empty or unrelated text', () => {
    expect(parseListing('', 'encoders').size).toBe(0);
    expect(parseListing('ffmpeg: command not found\n', 'encoders').size).toBe(0);
  });

  it('does not read a filters listing as encoders', () => {
    expect(parseListing(filtersText, 'encoders').has('scale')).toBe(false);
  });
});

describe('parseListing (filters)', () => {
  const filters = parseListing(filtersText, 'filters');

  it('finds exactly the filters listed, with and without timeline/slice/command flags', () => {
    expect([...filters].sort()).toEqual(
      ['abench', 'acompressor', 'loudnorm', 'amix', 'overlay', 'psnr', 'ssim', 'libvmaf', 'scale', 'split', 'palettegen', 'paletteuse', 'nullsink', 'buffer'].sort(),
    );
  });

  it('skips the legend lines, including "T.. = Timeline support"', () => {
    expect(filters.has('=')).toBe(false);
    expect(filters.has('Timeline')).toBe(false);
  });

  it('does not report libvmaf when the build lacks it', () => {
    const without = filtersText.split('\n').filter((l) => !l.includes('libvmaf')).join('\n');
    expect(parseListing(without, 'filters').has('libvmaf')).toBe(false);
  });
});

describe('parseHwaccels', () => {
  it('reads every method after the heading', () => {
    expect([...parseHwaccels(hwaccelsText)]).toEqual(['vdpau', 'cuda', 'vaapi', 'qsv', 'drm', 'opencl', 'vulkan']);
  });

  it('gives an empty set for a build without hardware acceleration methods', () => {
    expect(parseHwaccels('Hardware acceleration methods:\n\n').size).toBe(0);
  });

  it('gives an empty set when the heading is missing (e.g. FFmpeg could not run)', () => {
    expect(parseHwaccels('cuda\nvaapi\n').size, 'names without the heading are not trusted').toBe(0);
  });

  it('tolerates Windows line endings and indentation', () => {
    expect(parseHwaccels('Hardware acceleration methods:\r\n  cuda\r\n  vaapi\r\n').has('cuda')).toBe(true);
  });
});

describe('parseVmafStyle', () => {
  it.each([
    ['libvmaf 1.x (model_path only)', 'model_path', vmaf1Help],
    ['libvmaf 2.x (model, model_path deprecated)', 'model', vmaf2Help],
    ['libvmaf 3.x (model only)', 'model', vmaf3Help],
    ['a build without libvmaf', undefined, "Unknown filter 'libvmaf'.\n"],
    ['empty output', undefined, ''],
  ])('reads the help of %s as style %s', (_name, want, help) => {
    expect(parseVmafStyle(help)).toBe(want);
  });

  it('is not fooled by option descriptions that mention model', () => {
    const onlyMentions = `libvmaf AVOptions:
   model_path        <string>     ..FV....... use model='path=...'. (deprecated)
   feature           <string>     ..FV....... Set the feature (see model=...).
`;
    expect(parseVmafStyle(onlyMentions)).toBe('model_path');
  });
});
