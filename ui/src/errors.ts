// The API's errors as the page shows them: a banner with the message, and each field-named
// problem next to the field it names.
import { KubeffError } from '../../sdk/src/index.ts';
import { h } from './dom.ts';

export interface FieldProblem {
  field: string;
  message: string;
  suggestion?: string | undefined;
}

/** Every field-named problem in an error (a refused request may list several). */
export function fieldProblems(err: unknown): FieldProblem[] {
  if (!(err instanceof KubeffError) || !err.envelope) return [];
  const d = (err.envelope.error.details ?? {}) as { field?: unknown; suggestion?: unknown; errors?: unknown };
  const list = Array.isArray(d.errors) ? (d.errors as Record<string, unknown>[]) : [{ ...d, message: err.envelope.error.message }];
  return list
    .filter((e) => typeof e['field'] === 'string')
    .map((e) => ({
      field: String(e['field']),
      message: String(e['message'] ?? '').replace(new RegExp(`^${escapeRegExp(String(e['field']))}: `), ''),
      suggestion: typeof e['suggestion'] === 'string' ? e['suggestion'] : undefined,
    }));
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function errorText(err: unknown): string {
  if (err instanceof KubeffError) return `${err.envelope?.error.code ?? `HTTP ${err.status}`}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

export function errorBanner(err: unknown): HTMLElement {
  return h('div', { class: 'banner error', role: 'alert' }, errorText(err));
}
