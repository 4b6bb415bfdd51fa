// Sign-in: the key is checked against the API before it is kept (in sessionStorage only).
import { KubeffClient } from '../../../sdk/src/index.ts';
import { h, show } from '../dom.ts';
import { errorText } from '../errors.ts';
import { saveKey } from '../session.ts';
import type { Page } from '../page.ts';

export const signInPage: Page = async (root) => {
  const input = h('input', { id: 'api-key', name: 'api-key', type: 'password', autocomplete: 'off', required: true, size: 40, 'aria-describedby': 'key-help' });
  const problem = h('p', { class: 'error', role: 'alert', id: 'signin-error' });
  const form = h('form', { class: 'card', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in'),
    h('div', { class: 'field' },
      h('label', { for: 'api-key' }, 'API key'),
      input,
      h('p', { id: 'key-help', class: 'muted' }, 'Kept in this tab only (session storage); never put in a URL or a cookie.'),
    ),
    problem,
    h('button', { type: 'submit' }, 'Sign in'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    problem.textContent = '';
    // Listing one job needs a valid key of either scope, and shows no other key's data.
    new KubeffClient({ baseUrl: location.origin, apiKey: key }).jobs.list({ per_page: 1 }).then(() => {
      saveKey(key);
      window.dispatchEvent(new Event('kubeff:signed-in'));
      location.hash = '#/jobs';
    }, (err: unknown) => {
      problem.textContent = errorText(err);
      input.focus();
    });
  });
  show(root, form);
  input.focus();
};
