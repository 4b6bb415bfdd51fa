export * from './admission.ts';
export * from './retry.ts';
export * from './phases.ts';
