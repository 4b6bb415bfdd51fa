// The dashboard's entry: a hash router (#/jobs, #/jobs/<id>, #/new, #/admin, #/signin), one page
// at a time; leaving a page aborts its signal, which closes its event streams and timers.
import { show } from './dom.ts';
import { errorBanner } from './errors.ts';
import { adminPage } from './pages/admin.ts';
import { jobPage } from './pages/job.ts';
import { jobsPage } from './pages/jobs.ts';
import { newJobPage } from './pages/new-job.ts';
import { signInPage } from './pages/signin.ts';
import type { Page } from './page.ts';
import { forgetKey, isAdmin, savedKey } from './session.ts';


const routes: [RegExp, Page][] = [
  [/^\/signin$/, signInPage],
  [/^\/jobs$/, jobsPage],
  [/^\/jobs\/([0-9a-f-]{36})$/, jobPage],
  [/^\/new$/, newJobPage],
  [/^\/admin$/, adminPage],
];

let current: AbortController | undefined;

async function route(): Promise<void> {
  current?.abort();
  const controller = new AbortController();
  current = controller;
  const root = document.getElementById('app') as HTMLElement;
  const [path = '', search = ''] = location.hash.replace(/^#/, '').split('?');
  if (!savedKey() && path !== '/signin') {
    location.hash = '#/signin';
    return;
  }
  const hit = routes.map(([re, page]) => [re.exec(path), page] as const).find(([m]) => m !== null);
  if (!hit) {
    location.hash = '#/jobs';
    return;
  }
  const [m, page] = hit;
  await navChrome();
  try {
    await page(root, { ...(m?.[1] ? { id: m[1] } : {}), query: new URLSearchParams(search) }, controller.signal);
  } catch (err) {
    if (!controller.signal.aborted) show(root, errorBanner(err));
  }
  // Keyboard and screen-reader users land on the new page's content.
  if (!controller.signal.aborted && document.activeElement === document.body) root.focus({ preventScroll: true });
}

let adminShown: boolean | undefined;
async function navChrome(): Promise<void> {
  const signedIn = savedKey() !== null;
  const out = document.getElementById('signout') as HTMLButtonElement;
  out.hidden = !signedIn;
  if (signedIn && adminShown === undefined) adminShown = await isAdmin();
  for (const a of document.querySelectorAll<HTMLElement>('[data-admin]')) a.hidden = !(signedIn && adminShown);
}

document.getElementById('signout')?.addEventListener('click', () => {
  forgetKey();
  adminShown = undefined;
  location.hash = '#/signin';
});
window.addEventListener('hashchange', () => void route());
window.addEventListener('kubeff:signed-in', () => {
  adminShown = undefined;
});
void route();
