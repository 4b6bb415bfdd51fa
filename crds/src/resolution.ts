// Resolution strings of the reference ("1920x1080", "720p", "4k") parsed into pixel sizes.
// A named resolution fixes only the height, so the width follows the source's aspect ratio.
import { Limits } from './spec.ts';

export interface Size {
  width?: number;
  height?: number;
}

const named: Record<string, number> = {
  '240p': 240, '360p': 360, '480p': 480, '540p': 540, '576p': 576, '720p': 720, '1080p': 1080,
  '1440p': 1440, '2k': 1440, '2160p': 2160, '4k': 2160, '4320p': 4320, '8k': 4320,
  sd: 480, hd: 720, fhd: 1080, uhd: 2160,
};
export const NamedResolutions = Object.keys(named);

/** Returns the size, or undefined when the string is not a resolution we understand. */
export function parseResolution(value: string): Size | undefined {
  const v = value.trim().toLowerCase();
  const h = named[v];
  if (h !== undefined) return { height: h };
  const p = /^(\d{2,4})p$/.exec(v);
  if (p) {
    const height = Number(p[1]);
    return height >= 2 && height <= Limits.maxDimension ? { height } : undefined;
  }
  const m = /^(\d{1,5})x(\d{1,5})$/.exec(v);
  if (!m) return undefined;
  const width = Number(m[1]);
  const height = Number(m[2]);
  if (width < 2 || height < 2 || width > Limits.maxDimension || height > Limits.maxDimension) return undefined;
  return { width, height };
}
