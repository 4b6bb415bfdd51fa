// Showing outputs: MP4/WebM in a <video> through a short-lived signed link (a media element cannot
// send the API key, and must make its own Range requests), HLS through hls.js (Chromium plays no
// HLS natively) with the key on each request it makes, images as blobs fetched with the key.
import { h } from './dom.ts';
import { client, savedKey } from './session.ts';

interface HlsInstance {
  loadSource(url: string): void;
  attachMedia(el: HTMLMediaElement): void;
  destroy(): void;
}
interface HlsClass {
  new (config: { xhrSetup: (xhr: XMLHttpRequest) => void }): HlsInstance;
  isSupported(): boolean;
}

export async function videoPlayer(path: string, signal: AbortSignal): Promise<HTMLVideoElement> {
  const link = await client().files.link(path, { expiresIn: 3600, signal });
  const video = h('video', { controls: true, preload: 'metadata', playsinline: true, 'data-path': path, 'aria-label': `video ${path}` });
  video.src = link.url;
  signal.addEventListener('abort', () => {
    video.removeAttribute('src');
    video.load();
  });
  return video;
}

export async function hlsPlayer(path: string, signal: AbortSignal): Promise<HTMLVideoElement> {
  const video = h('video', { controls: true, playsinline: true, 'data-path': path, 'aria-label': `HLS stream ${path}` });
  // Loaded from this server only when a stream is shown; its URL is external to the bundle.
  const mod = (await import('/ui/vendor/hls.mjs' as string)) as { default: HlsClass };
  const Hls = mod.default;
  if (!Hls.isSupported()) throw new Error('this browser cannot play HLS (no Media Source Extensions)');
  const key = savedKey() ?? '';
  const hls = new Hls({ xhrSetup: (xhr) => xhr.setRequestHeader('X-API-Key', key) });
  // The path-shaped download URL: the playlist's relative entries (variants, segments) resolve
  // against it to other files of the same folder.
  hls.loadSource(`${location.origin}/api/v1${path.split('/').map(encodeURIComponent).join('/')}`);
  hls.attachMedia(video);
  signal.addEventListener('abort', () => hls.destroy());
  return video;
}

/** A file's bytes through the SDK (the key in its header), as a Response to read them from. */
async function fileResponse(path: string, signal: AbortSignal): Promise<Response> {
  const file = await client().files.download(path, { signal });
  return new Response(file.body);
}

export async function imageView(path: string, signal: AbortSignal, alt: string): Promise<HTMLImageElement> {
  const url = URL.createObjectURL(await (await fileResponse(path, signal)).blob());
  signal.addEventListener('abort', () => URL.revokeObjectURL(url));
  return h('img', { class: 'output', src: url, alt, loading: 'lazy' });
}

export async function fileText(path: string, signal: AbortSignal): Promise<string> {
  return (await fileResponse(path, signal)).text();
}
