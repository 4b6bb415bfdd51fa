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
  new (config: { xhrSetup: (xhr: XMLHttpRequest, url: string) => void }): HlsInstance;
  isSupported(): boolean;
}

/** The download URL of a storage path, for code that sends the key itself. */
export function fileUrl(path: string): string {
  return `${location.origin}/api/v1/files?path=${encodeURIComponent(path)}`;
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

const hlsPrefix = '/ui/hls/';

export async function hlsPlayer(path: string, signal: AbortSignal): Promise<HTMLVideoElement> {
  const video = h('video', { controls: true, playsinline: true, 'data-path': path, 'aria-label': `HLS stream ${path}` });
  // Loaded from this server only when a stream is shown; its URL is external to the bundle.
  const mod = (await import('/ui/vendor/hls.mjs' as string)) as { default: HlsClass };
  const Hls = mod.default;
  if (!Hls.isSupported()) throw new Error('this browser cannot play HLS (no Media Source Extensions)');
  const key = savedKey() ?? '';
  // Playlists name their variants and segments relative to themselves, which a query-string URL
  // (/files?path=...) cannot resolve. hls.js is given a path-shaped URL (/ui/hls/storage/...),
  // never fetched as such: each request it makes is opened on /files?path= with the key.
  const hls = new Hls({
    xhrSetup: (xhr, url) => {
      const at = new URL(url).pathname.indexOf(hlsPrefix);
      xhr.open('GET', at >= 0 ? fileUrl(decodeURIComponent(new URL(url).pathname.slice(at + hlsPrefix.length - 1))) : url, true);
      xhr.setRequestHeader('X-API-Key', key);
    },
  });
  hls.loadSource(`${location.origin}${hlsPrefix.slice(0, -1)}${path.split('/').map(encodeURIComponent).join('/')}`);
  hls.attachMedia(video);
  signal.addEventListener('abort', () => hls.destroy());
  return video;
}

export async function imageView(path: string, signal: AbortSignal, alt: string): Promise<HTMLImageElement> {
  const res = await fetch(fileUrl(path), { headers: { 'X-API-Key': savedKey() ?? '' }, signal });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  const url = URL.createObjectURL(await res.blob());
  signal.addEventListener('abort', () => URL.revokeObjectURL(url));
  return h('img', { class: 'output', src: url, alt, loading: 'lazy' });
}

export async function fileText(path: string, signal: AbortSignal): Promise<string> {
  const res = await fetch(fileUrl(path), { headers: { 'X-API-Key': savedKey() ?? '' }, signal });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.text();
}
