export * from './admission.ts';
export * from './retry.ts';
export * from './phases.ts';
export * from './reconcile.ts';
export * from './job-builder.ts';
