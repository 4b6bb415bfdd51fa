// The kubeff version (operator/src/version.ts: one place for every process).
export { kubeffVersion } from '../../operator/src/version.ts';
