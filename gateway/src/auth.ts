// API keys: `kff_<id>_<secret>`, stored only as SHA-256 hashes (a key is 190 random bits, so a
// fast hash is as safe as a slow one and keeps every request cheap). Admin keys manage keys and
// see every job; client keys see only their own.
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { ApiKeyRecord, Store } from '../../operator/src/local/store.ts';
import { ApiError } from './errors.ts';

export interface Principal {
  keyId: string;
  name: string;
  scope: 'admin' | 'client';
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | undefined;
  }
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function newKey(): { key: string; id: string } {
  const id = randomBytes(6).toString('hex');
  return { id, key: `kff_${id}_${randomBytes(24).toString('base64url')}` };
}

/** The key from X-API-Key or Authorization: Bearer. */
export function presentedKey(req: FastifyRequest): string | undefined {
  const header = req.headers['x-api-key'];
  const x = Array.isArray(header) ? header[0] : header;
  if (x) return x.trim();
  const auth = req.headers.authorization;
  const m = auth ? /^Bearer\s+(\S+)$/i.exec(auth) : null;
  return m?.[1];
}

export interface KeyService {
  authenticate(raw: string | undefined): Principal;
  create(name: string, scope: 'admin' | 'client'): Promise<{ record: ApiKeyRecord; key: string }>;
  rotate(id: string): Promise<{ record: ApiKeyRecord; key: string }>;
  revoke(id: string): Promise<ApiKeyRecord>;
  list(): ApiKeyRecord[];
  /** A key by id, a revoked one included: for requests that name a key instead of presenting it (signed download links). */
  find(id: string): ApiKeyRecord | undefined;
}

export interface KeyServiceOptions {
  acceptAnyKey: boolean;
  /**
   * Where a created, rotated or revoked key is kept beyond this process (cluster mode: a Secret
   * every replica watches). Runs before the local store changes, so a failure changes nothing.
   */
  persist?: ((record: ApiKeyRecord) => Promise<void>) | undefined;
}

export function keyService(store: Store, opts: KeyServiceOptions): KeyService {
  const persist = opts.persist ?? (async () => undefined);
  const unauthorized = (message: string) =>
    new ApiError(401, 'authentication_error', 'UNAUTHORIZED', message, { field: 'X-API-Key' }, { 'www-authenticate': 'Bearer realm="kubeff"' });
  const lastUsed = new Map<string, number>();
  return {
    authenticate(raw) {
      if (!raw) throw unauthorized('an API key is required: send X-API-Key or Authorization: Bearer');
      if (raw.length > 512) throw unauthorized('invalid API key');
      const hash = hashKey(raw);
      let rec = store.keyByHash(hash);
      if (!rec && opts.acceptAnyKey) {
        // Development mode: the first use of a key registers it as a client key of its own.
        rec = { id: `dev-${hash.slice(0, 12)}`, name: 'development key', hash, scope: 'client', createdAt: new Date().toISOString(), revokedAt: undefined, lastUsedAt: undefined };
        store.insertKey(rec);
      }
      if (!rec || rec.revokedAt) throw unauthorized('invalid API key');
      // Recording use at most once a minute keeps the hot path free of writes.
      const t = Date.now();
      if ((lastUsed.get(rec.id) ?? 0) < t - 60_000) {
        lastUsed.set(rec.id, t);
        store.updateKey(rec.id, { lastUsedAt: new Date(t).toISOString() });
      }
      return { keyId: rec.id, name: rec.name, scope: rec.scope };
    },
    async create(name, scope) {
      const { id, key } = newKey();
      const record: ApiKeyRecord = { id, name, hash: hashKey(key), scope, createdAt: new Date().toISOString(), revokedAt: undefined, lastUsedAt: undefined };
      await persist(record);
      store.upsertKey(record);
      return { record, key };
    },
    async rotate(id) {
      const cur = store.keyById(id);
      if (!cur || cur.revokedAt) throw ApiError.notFound('API key');
      if (id.startsWith('env-')) {
        // Its secret lives in the server's environment; a new one would be forgotten on restart.
        throw new ApiError(400, 'validation_error', 'INVALID_REQUEST', 'this key comes from KUBEFF_API_KEYS/KUBEFF_ADMIN_KEYS: change it there, or create a new key and revoke this one', { field: 'id', value: id });
      }
      // Same id (so its jobs stay its own), new secret; the old secret stops working at once.
      const key = `kff_${id}_${randomBytes(24).toString('base64url')}`;
      const record = { ...cur, hash: hashKey(key) };
      await persist(record);
      store.updateKey(id, { hash: record.hash });
      return { record, key };
    },
    async revoke(id) {
      const cur = store.keyById(id);
      if (!cur) throw ApiError.notFound('API key');
      const record = { ...cur, revokedAt: cur.revokedAt ?? new Date().toISOString() };
      await persist(record);
      store.updateKey(id, { revokedAt: record.revokedAt });
      return record;
    },
    list: () => store.listKeys(),
    find: (id) => store.keyById(id),
  };
}

/**
 * Keys from KUBEFF_API_KEYS / KUBEFF_ADMIN_KEYS are registered (hashed); with none configured
 * and none stored, one admin and one client key are created and returned to be printed once.
 */
export async function bootstrapKeys(store: Store, keys: KeyService, cfg: { apiKeys: string[]; adminKeys: string[] }): Promise<{ admin: string; client: string } | undefined> {
  const add = (raw: string, scope: 'admin' | 'client') => {
    const hash = hashKey(raw);
    // Already known, or known and since revoked: a revocation survives restarts.
    if (store.keyByHash(hash) || store.keyById(`env-${hash.slice(0, 12)}`)) return;
    store.insertKey({ id: `env-${hash.slice(0, 12)}`, name: `${scope} key from environment`, hash, scope, createdAt: new Date().toISOString(), revokedAt: undefined, lastUsedAt: undefined });
  };
  for (const k of cfg.adminKeys) add(k, 'admin');
  for (const k of cfg.apiKeys) add(k, 'client');
  if (cfg.adminKeys.length || cfg.apiKeys.length || store.countKeys() > 0) return undefined;
  return { admin: (await keys.create('bootstrap admin', 'admin')).key, client: (await keys.create('bootstrap client', 'client')).key };
}
