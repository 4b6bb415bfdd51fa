// What each output container can hold: the codec/container compatibility rules, the defaults
// chosen when a request names only a container, and the FFmpeg muxer that writes it.
import type { AudioCodecName, Container, VideoCodecName } from './spec.ts';

export type ContainerKind = 'av' | 'audio' | 'image';

export interface ContainerRule {
  kind: ContainerKind;
  muxer: string;
  video: readonly VideoCodecName[];
  audio: readonly AudioCodecName[];
  defaultVideo?: VideoCodecName;
  defaultAudio?: AudioCodecName;
  /** A container whose other codecs the user may want instead, for suggestions. */
  suggestion?: string;
}

export const ContainerRules: Record<Container, ContainerRule> = {
  mp4: { kind: 'av', muxer: 'mp4', video: ['h264', 'h265', 'av1', 'copy'], audio: ['aac', 'mp3', 'opus', 'copy'], defaultVideo: 'h264', defaultAudio: 'aac' },
  mov: { kind: 'av', muxer: 'mov', video: ['h264', 'h265', 'copy'], audio: ['aac', 'mp3', 'pcm', 'copy'], defaultVideo: 'h264', defaultAudio: 'aac' },
  mkv: { kind: 'av', muxer: 'matroska', video: ['h264', 'h265', 'vp9', 'av1', 'copy'], audio: ['aac', 'mp3', 'opus', 'vorbis', 'flac', 'pcm', 'copy'], defaultVideo: 'h264', defaultAudio: 'aac' },
  webm: { kind: 'av', muxer: 'webm', video: ['vp9', 'av1', 'copy'], audio: ['opus', 'vorbis', 'copy'], defaultVideo: 'vp9', defaultAudio: 'opus' },
  ts: { kind: 'av', muxer: 'mpegts', video: ['h264', 'h265', 'copy'], audio: ['aac', 'mp3', 'copy'], defaultVideo: 'h264', defaultAudio: 'aac' },
  gif: { kind: 'av', muxer: 'gif', video: ['gif'], audio: [], defaultVideo: 'gif' },
  mp3: { kind: 'audio', muxer: 'mp3', video: [], audio: ['mp3', 'copy'], defaultAudio: 'mp3' },
  m4a: { kind: 'audio', muxer: 'ipod', video: [], audio: ['aac', 'copy'], defaultAudio: 'aac' },
  wav: { kind: 'audio', muxer: 'wav', video: [], audio: ['pcm'], defaultAudio: 'pcm' },
  flac: { kind: 'audio', muxer: 'flac', video: [], audio: ['flac', 'copy'], defaultAudio: 'flac' },
  ogg: { kind: 'audio', muxer: 'ogg', video: [], audio: ['opus', 'vorbis', 'flac', 'copy'], defaultAudio: 'opus' },
  jpg: { kind: 'image', muxer: 'image2', video: [], audio: [] },
  png: { kind: 'image', muxer: 'image2', video: [], audio: [] },
  webp: { kind: 'image', muxer: 'image2', video: [], audio: [] },
};

/** Which container to suggest for a codec the chosen container cannot hold. */
export function containersFor(codec: VideoCodecName | AudioCodecName, type: 'video' | 'audio'): Container[] {
  return (Object.keys(ContainerRules) as Container[]).filter((c) => {
    const rule = ContainerRules[c];
    return type === 'video' ? rule.video.includes(codec as VideoCodecName) : rule.audio.includes(codec as AudioCodecName);
  });
}

const extensionAliases: Record<string, Container> = { jpeg: 'jpg', matroska: 'mkv', m2ts: 'ts', aac: 'm4a' };

/** The container implied by a file name's extension, if it is one we write. */
export function containerFromPath(path: string): Container | undefined {
  const m = /\.([A-Za-z0-9]{1,8})$/.exec(path);
  if (!m) return undefined;
  const ext = (m[1] as string).toLowerCase();
  if (ext in ContainerRules) return ext as Container;
  return extensionAliases[ext];
}
