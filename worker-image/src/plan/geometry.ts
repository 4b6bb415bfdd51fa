// Frame sizes through a chain of operations, so the planner writes exact even sizes and can
// refuse a crop outside the frame before FFmpeg starts.
export interface Dimensions {
  width: number;
  height: number;
}

/** The nearest even size (encoders want even dimensions for 4:2:0), at least 2. */
export const even = (n: number) => Math.max(2, Math.round(n / 2) * 2);

/** Fits a requested width and/or height, keeping the aspect ratio for a missing side. */
export function fit(src: Dimensions, want: { width?: number | undefined; height?: number | undefined }): Dimensions {
  if (want.width !== undefined && want.height !== undefined) return { width: even(want.width), height: even(want.height) };
  if (want.width !== undefined) return { width: even(want.width), height: even((want.width * src.height) / src.width) };
  if (want.height !== undefined) return { width: even((want.height * src.width) / src.height), height: even(want.height) };
  return src;
}

/** Fits inside a box without distortion (for grid cells). */
export function fitInside(src: Dimensions, box: Dimensions): Dimensions {
  const scale = Math.min(box.width / src.width, box.height / src.height);
  return { width: Math.min(box.width, even(src.width * scale)), height: Math.min(box.height, even(src.height * scale)) };
}
