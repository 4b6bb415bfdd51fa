// Every output is checked before it is published (options.verify, on by default): FFmpeg exiting
// 0 does not prove a file is whole. A file must open and decode from end to end with no error,
// have the streams the job asked for and the length it should have; an HLS/DASH ladder must list
// only segments that exist, and every one of them must decode. What fails is never published:
// the job fails with OUTPUT_VERIFICATION_FAILED and what was expected and found.
//
// The decisions (what a playlist lists, whether a length is right) are pure; the checks run
// FFmpeg and ffprobe on the staged files.
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join, normalize, sep } from 'node:path';
import type { FailureDetails } from '@kubeff/crds';
import { ExitCode } from './exit-codes.ts';
import { JobFailure } from './failure.ts';
import { probe, type MediaInfo, type Prober } from './probe.ts';

export interface MediaExpectation {
  video: boolean;
  audio: boolean;
  /** The output's length one FFmpeg was asked for (trim- and speed-aware); absent: not checked. */
  seconds?: number | undefined;
  /** One frame of the output: the tolerance of the length check. */
  frameSeconds?: number | undefined;
}

export interface Problem {
  check: 'open' | 'decode' | 'streams' | 'duration' | 'segments';
  expected: string;
  found: string;
}

/** An audio frame (AAC: 1024 samples at 48 kHz) is the other unit a length may be off by. */
const AudioFrameSeconds = 0.025;

/** Pure: what is wrong with a probed file against what was asked. */
export function mediaProblems(e: MediaExpectation, info: Pick<MediaInfo, 'video' | 'audio' | 'durationSeconds' | 'isImage'>): Problem[] {
  const out: Problem[] = [];
  const hasVideo = info.video !== undefined && !info.isImage;
  if (e.video && !hasVideo) out.push({ check: 'streams', expected: 'a video stream', found: 'no video stream' });
  if (!e.video && hasVideo) out.push({ check: 'streams', expected: 'no video stream', found: `a ${info.video?.codec} video stream` });
  if (e.audio && !info.audio) out.push({ check: 'streams', expected: 'an audio stream', found: 'no audio stream' });
  if (!e.audio && info.audio) out.push({ check: 'streams', expected: 'no audio stream', found: `a ${info.audio.codec} audio stream` });
  if (e.seconds !== undefined) {
    const tolerance = (e.frameSeconds ?? 0.04) + AudioFrameSeconds;
    const found = info.durationSeconds;
    if (!(found > 0)) out.push({ check: 'duration', expected: `${e.seconds.toFixed(3)} s`, found: 'no duration' });
    else if (Math.abs(found - e.seconds) > tolerance) {
      out.push({ check: 'duration', expected: `${e.seconds.toFixed(3)} s (± ${tolerance.toFixed(3)} s)`, found: `${found.toFixed(3)} s` });
    }
  }
  return out;
}

export interface PlaylistSegment {
  uri: string;
  seconds: number;
}

/** Pure: an HLS media playlist's segments, target duration and whether it is complete. */
export function parseMediaPlaylist(text: string): { segments: PlaylistSegment[]; targetDuration: number | undefined; ended: boolean } {
  const segments: PlaylistSegment[] = [];
  let pending: number | undefined;
  let targetDuration: number | undefined;
  let ended = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('#EXTINF:')) pending = Number(line.slice(8).split(',')[0]);
    else if (line.startsWith('#EXT-X-TARGETDURATION:')) targetDuration = Number(line.slice(22));
    else if (line === '#EXT-X-ENDLIST') ended = true;
    else if (!line.startsWith('#')) {
      segments.push({ uri: line, seconds: pending ?? NaN });
      pending = undefined;
    }
  }
  return { segments, targetDuration, ended };
}

/** Pure: the media playlists a master playlist names (variants and EXT-X-MEDIA renditions). */
export function parseMasterPlaylist(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const media = /^#EXT-X-MEDIA:.*\bURI="([^"]+)"/.exec(line);
    if (media?.[1]) out.push(media[1]);
    else if (line && !line.startsWith('#')) out.push(line);
  }
  return [...new Set(out)];
}

/** Pure: the files an MPD written with SegmentTemplate and SegmentTimeline names, and its length. */
export function parseMpd(text: string): { files: string[]; seconds: number | undefined } {
  const files: string[] = [];
  const duration = /mediaPresentationDuration="PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?"/.exec(text);
  const seconds = duration ? Number(duration[1] ?? 0) * 3600 + Number(duration[2] ?? 0) * 60 + Number(duration[3] ?? 0) : undefined;
  for (const rep of text.matchAll(/<Representation\b[^>]*\bid="([^"]+)"[^>]*>([\s\S]*?)<\/Representation>/g)) {
    const id = rep[1] as string;
    const body = rep[2] as string;
    const tpl = /<SegmentTemplate\b([^>]*)>/.exec(body);
    if (!tpl) continue;
    const attr = (name: string) => new RegExp(`\\b${name}="([^"]*)"`).exec(tpl[1] as string)?.[1];
    const init = attr('initialization');
    const media = attr('media');
    const start = Number(attr('startNumber') ?? 1);
    let count = 0;
    for (const s of body.matchAll(/<S\b([^>]*)\/>/g)) count += 1 + Number(/\br="(-?\d+)"/.exec(s[1] as string)?.[1] ?? 0);
    const fill = (t: string, n?: number) =>
      t.replace(/\$RepresentationID\$/g, id).replace(/\$Number(?:%0(\d+)d)?\$/g, (_, w: string | undefined) => (n === undefined ? '' : String(n).padStart(Number(w ?? 0), '0')));
    if (init) files.push(fill(init));
    if (media) for (let i = 0; i < count; i++) files.push(fill(media, start + i));
  }
  return { files, seconds };
}

/** Pure: a playlist's own entry, resolved inside its folder; undefined when it points elsewhere. */
export function insideFolder(root: string, from: string, uri: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(uri) || uri.startsWith('/')) return undefined;
  const p = normalize(join(dirname(from), uri));
  return p === root || p.startsWith(root.endsWith(sep) ? root : root + sep) ? p : undefined;
}

/**
 * Decodes a file (or a playlist with everything it lists) to nowhere: undefined when every packet
 * decoded without an error, else FFmpeg's first error lines.
 */
export async function decodeErrors(ffmpeg: string, file: string, signal?: AbortSignal): Promise<string | undefined> {
  const args = ['-hide_banner', '-nostdin', '-v', 'error', '-xerror', '-threads', '0', '-protocol_whitelist', 'file', '-i', `file:${file}`, '-map', '0:v?', '-map', '0:a?', '-f', 'null', '-'];
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpeg, args, { stdio: ['ignore', 'ignore', 'pipe'], ...(signal ? { signal } : {}) });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (err.length < 4000) err += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const text = err.trim().split('\n').slice(0, 3).join('; ').slice(0, 300);
      resolve(code === 0 && !text ? undefined : text || `FFmpeg exited with ${code}`);
    });
  });
}

export interface VerifyTools {
  ffmpeg: string;
  ffprobe: Prober;
  signal?: AbortSignal | undefined;
}

function fail(what: string, p: Problem, path: string): JobFailure {
  const details: FailureDetails = { check: p.check, path, expected: p.expected, found: p.found };
  return new JobFailure('OUTPUT_VERIFICATION_FAILED', ExitCode.outputRejected, `${what} failed its ${p.check} check: expected ${p.expected}, found ${p.found}`, 'output', details);
}

/** Checks one media file: it opens, has the streams and length asked for, and decodes whole. */
/** Returns the output's probe (what describes it once published: the file does not change). */
export async function verifyMedia(t: VerifyTools, file: string, shown: string, e: MediaExpectation): Promise<MediaInfo> {
  let info: MediaInfo;
  try {
    info = await probe(t.ffprobe, file, 'output');
  } catch (err) {
    throw fail(shown, { check: 'open', expected: 'a readable media file', found: (err as Error).message.slice(0, 200) }, shown);
  }
  const problem = mediaProblems(e, info)[0];
  if (problem) throw fail(shown, problem, shown);
  const errors = await decodeErrors(t.ffmpeg, file, t.signal);
  if (errors) throw fail(shown, { check: 'decode', expected: 'every packet to decode', found: errors }, shown);
  return info;
}

/** Checks an image output: it opens as a picture and decodes. */
export async function verifyImage(t: VerifyTools, file: string, shown: string): Promise<MediaInfo> {
  let info: MediaInfo;
  try {
    info = await probe(t.ffprobe, file, 'output');
  } catch (err) {
    throw fail(shown, { check: 'open', expected: 'a readable image', found: (err as Error).message.slice(0, 200) }, shown);
  }
  if (!info.video) throw fail(shown, { check: 'streams', expected: 'a picture', found: 'no image stream' }, shown);
  const errors = await decodeErrors(t.ffmpeg, file, t.signal);
  if (errors) throw fail(shown, { check: 'decode', expected: 'the picture to decode', found: errors }, shown);
  return info;
}

const exists = async (p: string) => stat(p).then((s) => s.isFile() && s.size > 0, () => false);

/**
 * Checks an HLS folder: the master lists playlists that exist; each playlist is complete, lists
 * only segments that exist, adds up to the expected length (within one segment) and decodes whole.
 * `shownOf` turns a file of the folder into the location users see.
 */
export async function verifyHls(t: VerifyTools, dir: string, master: string, shownOf: (name: string) => string, expect: { seconds: number; segmentSeconds: number }): Promise<void> {
  const masterPath = join(dir, master);
  const playlists = parseMasterPlaylist(await readFile(masterPath, 'utf8').catch(() => ''));
  if (!playlists.length) throw fail(shownOf(master), { check: 'segments', expected: 'a master playlist naming its renditions', found: 'none' }, shownOf(master));
  for (const uri of playlists) {
    const path = insideFolder(dir, masterPath, uri);
    const rel = path ? path.slice(dir.length + 1) : uri;
    if (!path || !(await exists(path))) throw fail(shownOf(master), { check: 'segments', expected: `playlist ${uri} to exist`, found: 'it does not' }, shownOf(rel));
    const list = parseMediaPlaylist(await readFile(path, 'utf8'));
    if (!list.ended || !list.segments.length) throw fail(shownOf(rel), { check: 'segments', expected: 'a complete playlist (#EXT-X-ENDLIST) with segments', found: `${list.segments.length} segment(s)${list.ended ? '' : ', not ended'}` }, shownOf(rel));
    for (const s of list.segments) {
      const seg = insideFolder(dir, path, s.uri);
      if (!seg || !(await exists(seg))) throw fail(shownOf(rel), { check: 'segments', expected: `segment ${s.uri} to exist`, found: 'it does not' }, shownOf(rel));
    }
    const total = list.segments.reduce((a, s) => a + s.seconds, 0);
    if (!(Math.abs(total - expect.seconds) <= expect.segmentSeconds)) {
      throw fail(shownOf(rel), { check: 'duration', expected: `${expect.seconds.toFixed(3)} s (± ${expect.segmentSeconds} s)`, found: `${total.toFixed(3)} s` }, shownOf(rel));
    }
    const errors = await decodeErrors(t.ffmpeg, path, t.signal);
    if (errors) {
      // Name the segment: decode them one by one (only on this failing path).
      for (const s of list.segments) {
        const seg = insideFolder(dir, path, s.uri) as string;
        const own = await decodeErrors(t.ffmpeg, seg, t.signal);
        if (own) throw fail(shownOf(rel), { check: 'decode', expected: `segment ${s.uri} to decode`, found: own }, shownOf(seg.slice(dir.length + 1)));
      }
      throw fail(shownOf(rel), { check: 'decode', expected: 'every segment to decode', found: errors }, shownOf(rel));
    }
  }
}

/** Checks a DASH folder: every file the MPD names exists, the length is right, and it decodes whole. */
export async function verifyDash(t: VerifyTools, dir: string, manifest: string, shownOf: (name: string) => string, expect: { seconds: number; segmentSeconds: number }): Promise<void> {
  const mpdPath = join(dir, manifest);
  const mpd = parseMpd(await readFile(mpdPath, 'utf8').catch(() => ''));
  if (!mpd.files.length) throw fail(shownOf(manifest), { check: 'segments', expected: 'an MPD naming its segments', found: 'none' }, shownOf(manifest));
  for (const f of mpd.files) {
    const p = insideFolder(dir, mpdPath, f);
    if (!p || !(await exists(p))) throw fail(shownOf(manifest), { check: 'segments', expected: `${f} to exist`, found: 'it does not' }, shownOf(f));
  }
  if (mpd.seconds === undefined || !(Math.abs(mpd.seconds - expect.seconds) <= expect.segmentSeconds)) {
    throw fail(shownOf(manifest), { check: 'duration', expected: `${expect.seconds.toFixed(3)} s (± ${expect.segmentSeconds} s)`, found: mpd.seconds === undefined ? 'no duration' : `${mpd.seconds.toFixed(3)} s` }, shownOf(manifest));
  }
  const errors = await decodeErrors(t.ffmpeg, mpdPath, t.signal);
  if (errors) throw fail(shownOf(manifest), { check: 'decode', expected: 'every segment to decode', found: errors }, shownOf(manifest));
}
