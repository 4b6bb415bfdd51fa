// The secret behind signed download links (download-links.ts). Every gateway replica must hold
// the same one, and it must outlive restarts, or links made a minute ago would stop working.
//
// Why its own secret and not one derived from the webhook secret: the webhook secret is handed to
// webhook receivers (GET /admin/webhook-secret, KUBEFF_WEBHOOK_SECRET in their config), and any
// holder of a secret the link key derives from could mint links for any key and path. So it is
// obtained the same way, separately:
// - KUBEFF_LINK_SECRET when set (cluster operators who manage secrets themselves);
// - standalone: generated on first start and kept in the embedded database (below);
// - cluster: kept in a Secret of the namespace, created by the first replica (cluster.ts), since
//   each replica's database is its own cache.
import { randomBytes } from 'node:crypto';
import type { Store } from '../../operator/src/local/store.ts';

export const LinkSecretVariable = 'KUBEFF_LINK_SECRET';

/** A new secret: 32 random bytes. */
export function generateLinkSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** KUBEFF_LINK_SECRET when set; a short one is refused at start rather than weakening every link. */
export function configuredLinkSecret(env: NodeJS.ProcessEnv): string | undefined {
  const v = env[LinkSecretVariable];
  if (v === undefined || v === '') return undefined;
  if (v.length < 32) throw new Error(`${LinkSecretVariable} must be at least 32 characters (e.g. openssl rand -base64 32)`);
  return v;
}

/** Standalone: the configured secret (Config.linkSecret), else the one kept in the database, made on first use. */
export function standaloneLinkSecret(store: Store, configured: string | undefined): string {
  if (configured !== undefined) return configured;
  store.db.exec('create table if not exists gateway_secrets (name text primary key, value text not null, created_at text not null)');
  // Insert-or-ignore then read: two processes starting on one database end up with the same value.
  store.q('insert or ignore into gateway_secrets (name, value, created_at) values (?,?,?)').run('download_links', generateLinkSecret(), new Date().toISOString());
  const row = store.q('select value from gateway_secrets where name = ?').get('download_links') as { value: string } | undefined;
  if (!row) throw new Error('the download-link secret was not stored');
  return row.value;
}
