// Maps /storage/... paths onto the storage root and makes sure nothing escapes it, including
// through symlinks planted inside the root.
import { mkdir, realpath } from 'node:fs/promises';
import { dirname, join, relative, resolve, isAbsolute } from 'node:path';
import { StoragePrefix } from '@kubeff/crds';
import { JobFailure } from './failure.ts';
import { ExitCode } from './exit-codes.ts';

export class LocalStorage {
  readonly root: string;
  constructor(root: string) {
    this.root = resolve(root);
  }

  /** The host path of a /storage/... path, checked lexically (no I/O). */
  hostPath(storagePath: string, field: string): string {
    if (!storagePath.startsWith(StoragePrefix)) {
      throw new JobFailure('INVALID_INPUT', ExitCode.invalidSpec, `must be a path under ${StoragePrefix}`, field);
    }
    const host = resolve(this.root, storagePath.slice(StoragePrefix.length));
    this.assertInside(host, field);
    return host;
  }

  /** The /storage/... path of a host path inside the root. */
  storagePath(hostPath: string): string {
    return StoragePrefix + relative(this.root, hostPath).split('\\').join('/');
  }

  /** An input that must exist: its real path (symlinks followed) must stay inside the root. */
  async input(storagePath: string, field: string): Promise<string> {
    const host = this.hostPath(storagePath, field);
    let real: string;
    try {
      real = await realpath(host);
    } catch {
      throw JobFailure.invalidInput(`file not found: ${storagePath}`, field);
    }
    this.assertInside(real, field, await realpath(this.root));
    return real;
  }

  /** An output location: its parent folder is created and must resolve inside the root. */
  async output(storagePath: string, field: string, opts: { isDir?: boolean } = {}): Promise<string> {
    const host = this.hostPath(storagePath, field);
    const dir = opts.isDir ? host : dirname(host);
    await mkdir(dir, { recursive: true });
    const realDir = await realpath(dir);
    // The file (or folder) itself must be inside the root; its parent may be the root.
    const target = opts.isDir ? realDir : join(realDir, host.slice(dir.length + 1));
    this.assertInside(target, field, await realpath(this.root));
    return target;
  }

  private assertInside(p: string, field: string, root = this.root): void {
    const rel = relative(root, p);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
      throw new JobFailure('INVALID_INPUT', ExitCode.invalidSpec, 'resolves outside the storage root', field);
    }
  }
}
