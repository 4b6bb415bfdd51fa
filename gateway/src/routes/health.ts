// Health: public liveness with nothing to learn from it; details only for admin keys.
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { authenticateOptional } from '../auth-optional.ts';
import type { Deps } from '../deps.ts';
import { kubeffVersion as version } from '../version.ts';


export function healthRoutes(app: FastifyInstance, deps: Deps): void {
  app.get('/api/v1/health', {
    schema: {
      tags: ['system'],
      summary: 'Liveness; admin keys also get queue and runtime details',
      response: {
        200: Type.Object({
          status: Type.Literal('ok'),
          version: Type.String(),
          details: Type.Optional(Type.Object({ jobs: Type.Record(Type.String(), Type.Integer()), running: Type.Integer(), mode: Type.String(), storage_root: Type.String() })),
        }),
      },
    },
  }, async (req) => {
    const p = authenticateOptional(deps, req);
    if (p?.scope !== 'admin') return { status: 'ok' as const, version };
    return { status: 'ok' as const, version, details: { jobs: deps.store.stats(), running: deps.runtime.runningCount(), mode: deps.config.mode, storage_root: deps.config.storageRoot } };
  });
}
