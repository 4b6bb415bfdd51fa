// Bitrates as the reference writes them ("192k", "2.5M", "5000k") into bits per second.

/** Returns bits per second, or undefined when the value is not a bitrate. */
export function parseBitrate(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? value : undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kKmMgG]?)(?:bps|b\/s)?$/.exec(value.trim());
  if (!m) return undefined;
  const scale = { '': 1, k: 1e3, m: 1e6, g: 1e9 }[(m[2] ?? '').toLowerCase()] ?? 1;
  const bps = Math.round(Number(m[1]) * scale);
  return Number.isFinite(bps) && bps > 0 ? bps : undefined;
}

export function formatBitrate(bps: number): string {
  return bps % 1000 === 0 ? `${bps / 1000}k` : String(bps);
}
