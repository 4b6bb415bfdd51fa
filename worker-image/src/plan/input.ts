// How an input reaches FFmpeg: a checked host path or a network URL with exactly the protocols it needs.

/**
 * An input as FFmpeg opens it: a file, or (S3 objects) a presigned http(s) URL to the configured
 * endpoint. A plain string is a host path already checked inside storage.
 */
export interface MediaInput {
  /** The argument of -i: `file:/host/path` or a URL. */
  url: string;
  /** The -protocol_whitelist: `file`, or exactly the protocols the URL needs. */
  protocols: string;
  /** A -format_whitelist for network inputs: media containers only, no playlists that open more URLs. */
  formats?: string | undefined;
  /** Input options for a network input (reconnection). */
  options?: readonly string[] | undefined;
}
export type InputRef = string | MediaInput;

/**
 * Demuxers a network input may use. Playlist and reference formats (hls, dash, concat, imf, ...)
 * are left out: they open further URLs, which the protocol whitelist of a network input would let
 * reach any host. Any name of a demuxer matches (FFmpeg compares each comma-separated name).
 */
export const NetworkInputFormats = [
  'mov', 'mp4', 'matroska', 'webm', 'avi', 'flv', 'mpegts', 'mpeg', 'mpegvideo', 'mxf', 'asf', 'ogg', 'mp3', 'aac', 'wav', 'w64',
  'flac', 'aiff', 'caf', 'ac3', 'eac3', 'dts', 'truehd', 'amr', 'ivf', 'h264', 'hevc', 'm4v', 'dv', 'gif', 'nut', 'wv', 'ape',
  'png_pipe', 'jpeg_pipe', 'webp_pipe', 'bmp_pipe', 'tiff_pipe', 'yuv4mpegpipe',
].join(',');
