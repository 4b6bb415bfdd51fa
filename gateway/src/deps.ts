// What the routes need, built once by the server and passed in (tests build their own).
import type { JobEventBus } from '../../operator/src/bus.ts';
import type { Store } from '../../operator/src/local/store.ts';
import type { LocalStorage } from '../../worker-image/src/storage.ts';
import type { Tools } from '../../worker-image/src/tools.ts';
import type { KeyService } from './auth.ts';
import type { Config } from './config.ts';
import type { JobRuntime } from './runtime.ts';

export interface Deps {
  config: Config;
  store: Store;
  bus: JobEventBus;
  runtime: JobRuntime;
  keys: KeyService;
  storage: LocalStorage;
  tools: Tools;
  /** The HMAC key of signed download links (download-links.ts), the same on every replica. */
  linkKey: Buffer;
}
