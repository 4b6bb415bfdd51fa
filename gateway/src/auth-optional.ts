// For public routes that say more to an admin: a presented key is checked, a missing one is fine.
import type { FastifyRequest } from 'fastify';
import { presentedKey, type Principal } from './auth.ts';
import type { Deps } from './deps.ts';

export function authenticateOptional(deps: Deps, req: FastifyRequest): Principal | undefined {
  const raw = presentedKey(req);
  return raw ? deps.keys.authenticate(raw) : undefined;
}
