// The canonical spec's schema compiled once (TypeBox's JIT): a compiled check is ~50× faster than
// Value's interpreter, and every submission and every worker run checks a spec.
import { Compile, type Validator } from 'typebox/compile';
import { MediaJobSpec } from './spec.ts';

let compiled: Validator | undefined;

/** The compiled MediaJobSpec validator, built on first use. */
export function specValidator(): Validator {
  return (compiled ??= Compile(MediaJobSpec));
}

/** The first schema error of a value, or undefined when it is a MediaJobSpec. */
export function firstSpecError(value: unknown): { message: string; instancePath: string } | undefined {
  const v = specValidator();
  return v.Check(value) ? undefined : v.Errors(value)[0];
}
