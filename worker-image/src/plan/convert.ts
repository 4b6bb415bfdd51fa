// Pure planner for convert jobs: spec + probe + capabilities -> one FFmpeg argv.
import { ContainerRules, type OutputSpec } from '@kubeff/crds';
import { JobFailure } from '../failure.ts';
import { audioEncoder, pixelFormat, videoEncoder } from './encoders.ts';
import { fit } from './geometry.ts';
import { chain, filter } from './graph.ts';
import { loudnormApply } from './loudnorm.ts';
import { audioChain, trimArgs, trimOf, videoChain } from './operations.ts';
import { commonArgs, fileInput, type Plan, type PlanContext } from './types.ts';

export function planConvert(ctx: PlanContext): Plan {
  const { spec, inputInfo } = ctx;
  const out = spec.output as OutputSpec;
  const rule = ContainerRules[out.format];
  const v = out.video ?? {};
  const a = out.audio ?? {};
  const { trim, seconds } = trimOf(spec.operations, inputInfo.durationSeconds);

  const wantVideo = rule.video.length > 0 && inputInfo.video !== undefined && !inputInfo.isImage;
  const wantAudio = rule.audio.length > 0 && inputInfo.audio !== undefined;
  if (rule.kind === 'audio' && !inputInfo.audio) throw JobFailure.invalidInput(`has no audio stream to write as ${out.format}`);
  if (!wantVideo && !wantAudio) throw JobFailure.invalidInput(`has no stream that fits a ${out.format} output`);
  if (out.format === 'gif' && !wantVideo) throw JobFailure.invalidInput('has no video stream to make a GIF from');

  const args = [...commonArgs(ctx)];
  if (ctx.acceleration.decode === 'nvdec') args.push('-hwaccel', 'cuda');
  args.push(...fileInput(ctx.input, trimArgs(trim)));
  if (ctx.watermark) args.push(...fileInput(ctx.watermark));

  const graph: string[] = [];
  const maps: string[] = [];
  // Speed changes the length whether or not there is video (audio-only outputs too).
  let seconds_ = seconds / spec.operations.reduce((f, o) => (o.type === 'speed' ? f * o.factor : f), 1);

  const vcodec = v.codec ?? rule.defaultVideo;
  if (wantVideo && inputInfo.video) {
    if (vcodec === 'copy') {
      maps.push('-map', '0:v:0', '-c:v', 'copy');
    } else {
      const vc = videoChain(spec.operations, { width: inputInfo.video.width, height: inputInfo.video.height }, seconds);
      seconds_ = vc.seconds;
      const tail = [...vc.after];
      if (v.width !== undefined || v.height !== undefined) {
        const size = fit(vc.size, v);
        tail.push(filter('scale', { w: size.width, h: size.height }));
      }
      if (v.fps !== undefined) tail.push(filter('fps', { fps: v.fps }));
      else if (vcodec === 'gif') tail.push(filter('fps', { fps: Math.min(15, inputInfo.video.fps || 15) }));
      if (vc.watermark) {
        graph.push(chain(['0:v:0'], vc.before, 'base', 'v'));
        graph.push(chain(['1:v:0'], vc.watermark.imageFilters, 'wm', 'v'));
        graph.push(chain(['base', 'wm'], [vc.watermark.overlay, ...tail], vcodec === 'gif' ? 'pre' : 'vout', 'v'));
      } else {
        graph.push(chain(['0:v:0'], [...vc.before, ...tail], vcodec === 'gif' ? 'pre' : 'vout', 'v'));
      }
      if (vcodec === 'gif') {
        // One pass with a palette made from the same frames: far better colour than the default.
        graph.push('[pre]split[pa][pb]', '[pa]palettegen=stats_mode=diff[pal]', '[pb][pal]paletteuse=dither=bayer:bayer_scale=4[vout]');
        maps.push('-map', '[vout]', '-c:v', 'gif');
      } else {
        const nvenc = ctx.acceleration.encode === 'nvenc';
        const enc = videoEncoder(vcodec as 'h264' | 'h265' | 'vp9' | 'av1', v, { encoders: ctx.encoders, nvenc, container: out.format });
        maps.push('-map', '[vout]', ...enc.args, '-pix_fmt', pixelFormat(v, nvenc));
      }
    }
  }

  const acodec = a.codec ?? rule.defaultAudio;
  if (wantAudio && acodec) {
    if (acodec === 'copy') {
      maps.push('-map', '0:a:0', '-c:a', 'copy');
    } else {
      const filters: string[] = [];
      const rate = a.sampleRate !== undefined ? Number(a.sampleRate) : undefined;
      if (a.normalize) {
        if (!ctx.loudness) throw new Error('internal: loudness must be measured before planning a normalized convert');
        filters.push(...loudnormApply(ctx.loudness, rate ?? inputInfo.audio?.sampleRate ?? 48000, a.channels ?? inputInfo.audio?.channels ?? 2));
      }
      filters.push(...audioChain(spec.operations, seconds));
      graph.push(chain(['0:a:0'], filters, 'aout', 'a'));
      maps.push('-map', '[aout]', ...audioEncoder(acodec, a, rate));
    }
  }

  if (graph.length) args.push('-filter_complex', graph.join(';'));
  args.push(...maps);
  if (out.format === 'mp4' || out.format === 'mov' || out.format === 'm4a') args.push('-movflags', '+faststart');
  if (out.format === 'gif') args.push('-loop', '0');
  args.push('-map_metadata', '-1', '-f', rule.muxer, '-protocol_whitelist', 'file', `file:${ctx.staging}`);

  return {
    steps: [{ stage: 'encoding', ffmpeg: ctx.ffmpeg, args, expectedSeconds: seconds_, weight: 1 }],
    outputSeconds: seconds_,
  };
}
