// Admin: API keys (create, rotate, revoke; a new secret is shown once) and the queue's numbers.
import { h, show, when } from '../dom.ts';
import { errorBanner } from '../errors.ts';
import { client } from '../session.ts';
import type { Page } from '../page.ts';

export const adminPage: Page = async (root, _params, signal) => {
  const c = client();
  const banner = h('div');
  const secret = h('div', { id: 'new-secret', 'aria-live': 'polite' });
  const keys = h('tbody');
  const stats = h('div', { class: 'stats', id: 'stats' });
  const name = h('input', { id: 'key-name', type: 'text', required: true, maxlength: 100 });
  const scope = h('select', { id: 'key-scope' }, h('option', { value: 'client' }, 'client'), h('option', { value: 'admin' }, 'admin'));

  const showSecret = (key: string, what: string) => show(secret, h('div', { class: 'banner info' }, `${what}. Copy the key now; it is not shown again:`, h('div', { class: 'secret' }, key)));
  const act = (p: Promise<unknown>) => p.then(() => load(), (err: unknown) => banner.replaceChildren(errorBanner(err)));

  const load = async () => {
    const [list, s] = await Promise.all([c.admin.keys.list({ signal }), c.admin.stats({ signal })]);
    show(stats, ...Object.entries(s.jobs).map(([k, v]) => h('span', {}, `${k}: ${v}`)), h('span', {}, `running workers: ${s.running}`), h('span', {}, `active keys: ${s.keys}`));
    keys.replaceChildren(...list.map((k) => h('tr', { 'data-key': k.id },
      h('td', {}, k.name), h('td', {}, h('code', {}, k.id)), h('td', {}, k.scope),
      h('td', { class: 'optional' }, when(k.created_at)), h('td', { class: 'optional' }, when(k.last_used_at)),
      h('td', {}, k.revoked_at ? `revoked ${when(k.revoked_at)}` : h('span', { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', onclick: () => act(c.admin.keys.rotate(k.id).then((r) => showSecret(r.key, `New secret for ${k.name}`))) }, 'Rotate'),
        h('button', { type: 'button', class: 'danger', onclick: () => act(c.admin.keys.revoke(k.id)) }, 'Revoke'),
      )),
    )));
  };

  const form = h('form', { class: 'filters' }, h('div', {}, h('label', { for: 'key-name' }, 'Name'), name), h('div', {}, h('label', { for: 'key-scope' }, 'Scope'), scope), h('button', { type: 'submit' }, 'Create key'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    banner.replaceChildren();
    act(c.admin.keys.create({ name: name.value.trim(), scope: scope.value as 'client' | 'admin' }).then((r) => showSecret(r.key, `Key ${r.api_key.name} created`)));
  });

  show(root,
    h('h1', {}, 'Admin'),
    banner,
    h('h2', {}, 'Queue and workers'), h('div', { class: 'card' }, stats),
    h('h2', {}, 'API keys'),
    h('div', { class: 'card' }, form, secret, h('table', { id: 'keys-table' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Id'), h('th', {}, 'Scope'), h('th', { class: 'optional' }, 'Created'), h('th', { class: 'optional' }, 'Last used'), h('th', {}, ''))),
      keys,
    )),
  );
  await load();
};
