// The upload gate's magic-byte table: real files made by FFmpeg are recognized, look-alikes are not.
import { readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sniff, SniffBytes } from '../../gateway/src/magic.ts';
import { dispositionFilename, safeName } from '../../gateway/src/routes/files.ts';
import { makeLogo, makeSource } from '../support/media.ts';

const dir = mkdtempSync(join(tmpdir(), 'kubeff-magic-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const head = (file: string) => readFileSync(file).subarray(0, SniffBytes);

describe('sniff', () => {
  it.each([
    { file: 'a.mp4', kind: 'mp4', ext: '.mp4' },
    { file: 'a.mov', kind: 'mp4', ext: '.mov' },
    { file: 'a.mkv', kind: 'matroska', ext: '.mkv' },
    { file: 'a.webm', kind: 'matroska', ext: '.webm', args: ['-c:v', 'libvpx-vp9', '-deadline', 'realtime'], audio: false },
    { file: 'a.avi', kind: 'avi', ext: '.avi', args: ['-c:v', 'mpeg4'] },
    { file: 'a.ts', kind: 'mpegts', ext: '.ts' },
    { file: 'a.mxf', kind: 'mxf', ext: '.mxf', args: ['-c:v', 'mpeg2video'], audio: false },
    { file: 'a.flv', kind: 'flv', ext: '.flv' },
  ])('recognizes $file written by FFmpeg as $kind', ({ file, kind, ext, args, audio }) => {
    // makeSource adds AAC audio to a video unless told not to; WebM and MXF do not take AAC.
    const p = makeSource(join(dir, file), { seconds: 1, ...(args ? { args } : {}), ...(audio === false ? { audio } : {}) });
    expect(sniff(head(p))).toEqual({ kind, ext });
  });

  it.each([
    { file: 'a.wav', kind: 'wav' },
    { file: 'a.mp3', kind: 'mp3' },
    { file: 'a.flac', kind: 'flac' },
    { file: 'a.ogg', kind: 'ogg' },
    { file: 'a.aac', kind: 'aac' },
  ])('recognizes audio-only $file as $kind', ({ file, kind }) => {
    const p = makeSource(join(dir, file), { seconds: 1, video: false, ...(file === 'a.aac' ? { args: ['-c:a', 'aac', '-f', 'adts'] } : {}) });
    expect(sniff(head(p))?.kind).toBe(kind);
  });

  it.each([
    { file: 'a.png', kind: 'png' },
    { file: 'a.jpg', kind: 'jpeg' },
    { file: 'a.gif', kind: 'gif' },
    { file: 'a.webp', kind: 'webp' },
  ])('recognizes the image $file as $kind', ({ file, kind }) => {
    expect(sniff(head(makeLogo(join(dir, file))))?.kind).toBe(kind);
  });

  it('refuses text, executables, archives and a lone TS sync byte', () => {
    expect(sniff(Buffer.from('Hello, this is text'.repeat(30)))).toBeUndefined();
    expect(sniff(readFileSync(process.execPath).subarray(0, SniffBytes))).toBeUndefined();
    expect(sniff(Buffer.from([0x50, 0x4b, 0x03, 0x04, ...Buffer.alloc(400)]))).toBeUndefined();
    expect(sniff(Buffer.from('GET / HTTP/1.1\r\n'.repeat(30)))).toBeUndefined();
    expect(sniff(Buffer.from('RIFF\0\0\0\0ACON'))).toBeUndefined();
    expect(sniff(new Uint8Array(0))).toBeUndefined();
  });
});

describe('upload file names', () => {
  it('reads filename* before filename, and quoted names with escapes', () => {
    expect(dispositionFilename(`attachment; filename="a.mp4"; filename*=UTF-8''b%20c.mp4`)).toBe('b c.mp4');
    expect(dispositionFilename('attachment; filename="say \\"hi\\".mp4"')).toBe('say "hi".mp4');
    expect(dispositionFilename('attachment; filename=plain.mov')).toBe('plain.mov');
    expect(dispositionFilename('inline')).toBeUndefined();
  });

  it('keeps only the last segment in plain characters, without a leading dot', () => {
    expect(safeName('../../etc/passwd')).toBe('passwd');
    expect(safeName('C:\\Users\\me\\My Video (1).mp4')).toBe('My_Video_1_.mp4');
    expect(safeName('.hidden.mp4')).toBe('hidden.mp4');
    expect(safeName('100%.mp4')).toBe('100_.mp4');
    expect(safeName('..')).toBeUndefined();
    expect(safeName(`${'x'.repeat(300)}.mp4`)).toHaveLength(120);
    expect(safeName(`${'x'.repeat(300)}.mp4`)?.endsWith('.mp4')).toBe(true);
  });
});
