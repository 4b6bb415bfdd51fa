// The signed-in key: kept in this tab's sessionStorage (gone when the tab closes, never in a URL
// or a cookie), and the SDK client that sends it as X-API-Key.
import { KubeffClient } from '../../sdk/src/index.ts';

const storageKey = 'kubeff.apiKey';

export function savedKey(): string | null {
  return sessionStorage.getItem(storageKey);
}

export function saveKey(key: string): void {
  sessionStorage.setItem(storageKey, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(storageKey);
}

let cached: { key: string; client: KubeffClient } | undefined;

/** The client for the signed-in key (the API is on this page's origin). */
export function client(): KubeffClient {
  const key = savedKey();
  if (!key) throw new Error('not signed in');
  if (cached?.key !== key) cached = { key, client: new KubeffClient({ baseUrl: location.origin, apiKey: key }) };
  return cached.client;
}

/** Whether the signed-in key is an admin's: health answers admins with details (and nobody with an error). */
export async function isAdmin(): Promise<boolean> {
  try {
    return (await client().health()).details !== undefined;
  } catch {
    return false;
  }
}
