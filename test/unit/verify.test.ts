import { describe, expect, it } from 'vitest';
import { insideFolder, mediaProblems, parseMasterPlaylist, parseMediaPlaylist, parseMpd } from '../../worker-image/src/verify.ts';

const info = (o: { video?: boolean; audio?: boolean; seconds?: number; image?: boolean } = {}) => ({
  video: o.video === false ? undefined : { codec: 'h264', width: 320, height: 240, fps: 25, pixelFormat: 'yuv420p', frames: undefined },
  audio: o.audio === false ? undefined : { codec: 'aac', channels: 2, sampleRate: 48000 },
  durationSeconds: o.seconds ?? 10,
  isImage: o.image ?? false,
});

describe('mediaProblems', () => {
  it.each([
    { why: 'a good file', e: { video: true, audio: true, seconds: 10, frameSeconds: 0.04 }, f: info(), problems: [] },
    { why: 'a length within a frame and an audio frame', e: { video: true, audio: true, seconds: 10, frameSeconds: 0.04 }, f: info({ seconds: 10.06 }), problems: [] },
    { why: 'a length off by more', e: { video: true, audio: true, seconds: 10, frameSeconds: 0.04 }, f: info({ seconds: 10.2 }), problems: ['duration'] },
    { why: 'a missing audio stream', e: { video: true, audio: true }, f: info({ audio: false }), problems: ['streams'] },
    { why: 'a video stream in an audio-only output', e: { video: false, audio: true }, f: info(), problems: ['streams'] },
    { why: 'no length at all', e: { video: true, audio: false, seconds: 3 }, f: info({ audio: false, seconds: 0 }), problems: ['duration'] },
  ])('$why: $problems', ({ e, f, problems }) => {
    expect(mediaProblems(e, f).map((p) => p.check)).toEqual(problems);
  });

  it('says what was expected and what was found', () => {
    expect(mediaProblems({ video: true, audio: true, seconds: 4, frameSeconds: 0.04 }, info({ seconds: 1 }))[0]).toEqual({ check: 'duration', expected: '4.000 s (± 0.065 s)', found: '1.000 s' });
  });
});

describe('playlists and manifests', () => {
  it('reads an HLS media playlist: segments with their durations, target duration, end', () => {
    const p = parseMediaPlaylist('#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.000000,\nseg_0.ts\n#EXTINF:1.5,\nseg_1.ts\n#EXT-X-ENDLIST\n');
    expect(p).toEqual({ segments: [{ uri: 'seg_0.ts', seconds: 4 }, { uri: 'seg_1.ts', seconds: 1.5 }], targetDuration: 4, ended: true });
    expect(parseMediaPlaylist('#EXTM3U\n#EXTINF:4,\na.ts\n').ended).toBe(false);
  });

  it('reads a master playlist: variants and audio renditions, once each', () => {
    const master = '#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="audio",URI="audio/index.m3u8"\n#EXT-X-STREAM-INF:BANDWIDTH=1\nhi/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2\nlo/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=3\naudio/index.m3u8\n';
    expect(parseMasterPlaylist(master)).toEqual(['audio/index.m3u8', 'hi/index.m3u8', 'lo/index.m3u8']);
  });

  it('reads the files and length of an MPD written with SegmentTemplate and SegmentTimeline', () => {
    const mpd = `<MPD mediaPresentationDuration="PT1M2.5S"><Period><AdaptationSet>
      <Representation id="0" bandwidth="1"><SegmentTemplate timescale="12800" initialization="init-$RepresentationID$.m4s" media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1">
        <SegmentTimeline><S t="0" d="51200" r="2" /><S d="25600" /></SegmentTimeline></SegmentTemplate></Representation>
      <Representation id="1" bandwidth="1"><SegmentTemplate timescale="48000" initialization="init-$RepresentationID$.m4s" media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1">
        <SegmentTimeline><S t="0" d="96256" /></SegmentTimeline></SegmentTemplate></Representation></AdaptationSet></Period></MPD>`;
    expect(parseMpd(mpd)).toEqual({
      files: ['init-0.m4s', 'chunk-0-00001.m4s', 'chunk-0-00002.m4s', 'chunk-0-00003.m4s', 'chunk-0-00004.m4s', 'init-1.m4s', 'chunk-1-00001.m4s'],
      seconds: 62.5,
    });
  });

  it.each([
    { uri: 'hi/seg.ts', inside: '/out/x/hi/seg.ts' },
    { uri: '../../etc/passwd', inside: undefined },
    { uri: '/etc/passwd', inside: undefined },
    { uri: 'http://example.com/seg.ts', inside: undefined },
    { uri: 'file:/etc/passwd', inside: undefined },
  ])('takes only entries inside the output folder: $uri', ({ uri, inside }) => {
    expect(insideFolder('/out/x', '/out/x/master.m3u8', uri)).toBe(inside);
  });
});
