// What an upload's first bytes say it is. A cheap gate in front of ffprobe: text, executables and
// archives are refused before anything is written, and a 10 GB mistake costs one packet, not a
// full upload. A match proves nothing about the rest of the file; ffprobe still has the last word.

export interface Sniffed {
  /** Container family, as a short name. */
  kind: string;
  /** The usual file extension, with its dot, for uploads sent without a file name. */
  ext: string;
}

/**
 * Bytes needed to recognize every entry: MPEG-TS is only believed when the second packet's sync
 * byte (offset 188, or 196 for 192-byte M2TS packets) is there too, since a lone 0x47 is just 'G'.
 */
export const SniffBytes = 400;

function ascii(b: Uint8Array, at: number, s: string): boolean {
  if (b.length < at + s.length) return false;
  for (let i = 0; i < s.length; i++) if (b[at + i] !== s.charCodeAt(i)) return false;
  return true;
}

function bytes(b: Uint8Array, at: number, seq: readonly number[]): boolean {
  if (b.length < at + seq.length) return false;
  return seq.every((v, i) => b[at + i] === v);
}

/** Whether a short ASCII string occurs within the first n bytes (Matroska's DocType). */
function contains(b: Uint8Array, s: string, n: number): boolean {
  const end = Math.min(b.length, n) - s.length;
  for (let i = 0; i <= end; i++) if (ascii(b, i, s)) return true;
  return false;
}

/** An MPEG audio frame header (layer I-III): sync, a real layer, a real bitrate and sample rate. */
function mpegAudioFrame(b: Uint8Array): boolean {
  const [b0, b1, b2] = [b[0], b[1], b[2]];
  if (b0 !== 0xff || b1 === undefined || b2 === undefined) return false;
  return (b1 & 0xe0) === 0xe0 && ((b1 >> 3) & 3) !== 1 && ((b1 >> 1) & 3) !== 0 && b2 >> 4 !== 0xf && ((b2 >> 2) & 3) !== 3;
}

/** An AAC ADTS header: 12-bit sync, MPEG-4 or -2, layer 00. */
function adts(b: Uint8Array): boolean {
  return b[0] === 0xff && b[1] !== undefined && (b[1] & 0xf6) === 0xf0;
}

/** Top-level QuickTime atoms that may open a .mov written before ftyp existed. */
const legacyQuickTimeAtoms = ['moov', 'mdat', 'wide', 'free', 'skip', 'pnot'];

interface Rule {
  kind: string;
  ext: string | ((b: Uint8Array) => string);
  test: (b: Uint8Array) => boolean;
}

// Order matters only where signatures overlap (MP3 frame sync vs ADTS; RIFF subtypes).
const rules: readonly Rule[] = [
  { kind: 'mp4', ext: (b) => (ascii(b, 8, 'qt  ') ? '.mov' : ascii(b, 8, 'M4A ') ? '.m4a' : '.mp4'), test: (b) => ascii(b, 4, 'ftyp') },
  { kind: 'mov', ext: '.mov', test: (b) => legacyQuickTimeAtoms.some((a) => ascii(b, 4, a)) },
  { kind: 'matroska', ext: (b) => (contains(b, 'webm', 64) ? '.webm' : '.mkv'), test: (b) => bytes(b, 0, [0x1a, 0x45, 0xdf, 0xa3]) },
  { kind: 'avi', ext: '.avi', test: (b) => ascii(b, 0, 'RIFF') && ascii(b, 8, 'AVI ') },
  { kind: 'wav', ext: '.wav', test: (b) => (ascii(b, 0, 'RIFF') || ascii(b, 0, 'RF64') || ascii(b, 0, 'BW64')) && ascii(b, 8, 'WAVE') },
  { kind: 'webp', ext: '.webp', test: (b) => ascii(b, 0, 'RIFF') && ascii(b, 8, 'WEBP') },
  { kind: 'aiff', ext: '.aiff', test: (b) => ascii(b, 0, 'FORM') && (ascii(b, 8, 'AIFF') || ascii(b, 8, 'AIFC')) },
  { kind: 'mpegts', ext: '.ts', test: (b) => b[0] === 0x47 && b[188] === 0x47 },
  { kind: 'm2ts', ext: '.m2ts', test: (b) => b[4] === 0x47 && b[196] === 0x47 },
  { kind: 'mpeg', ext: '.mpg', test: (b) => bytes(b, 0, [0x00, 0x00, 0x01, 0xba]) },
  { kind: 'mxf', ext: '.mxf', test: (b) => bytes(b, 0, [0x06, 0x0e, 0x2b, 0x34]) && bytes(b, 8, [0x0d, 0x01, 0x02, 0x01]) },
  { kind: 'flv', ext: '.flv', test: (b) => ascii(b, 0, 'FLV') && b[3] === 0x01 },
  { kind: 'asf', ext: '.wmv', test: (b) => bytes(b, 0, [0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11]) },
  { kind: 'flac', ext: '.flac', test: (b) => ascii(b, 0, 'fLaC') },
  { kind: 'ogg', ext: '.ogg', test: (b) => ascii(b, 0, 'OggS') },
  { kind: 'mp3', ext: '.mp3', test: (b) => ascii(b, 0, 'ID3') || mpegAudioFrame(b) },
  { kind: 'aac', ext: '.aac', test: adts },
  { kind: 'png', ext: '.png', test: (b) => bytes(b, 0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) },
  { kind: 'jpeg', ext: '.jpg', test: (b) => bytes(b, 0, [0xff, 0xd8, 0xff]) },
  { kind: 'gif', ext: '.gif', test: (b) => ascii(b, 0, 'GIF87a') || ascii(b, 0, 'GIF89a') },
];

/** Names of the recognized families, for the error message. */
export const SniffableKinds: readonly string[] = rules.map((r) => r.kind);

/** The family of a file from its first bytes (pass at least SniffBytes when the file has them). */
export function sniff(head: Uint8Array): Sniffed | undefined {
  for (const r of rules) {
    if (r.test(head)) return { kind: r.kind, ext: typeof r.ext === 'string' ? r.ext : r.ext(head) };
  }
  return undefined;
}
