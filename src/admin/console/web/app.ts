/// <reference lib="dom" />
/** The console's entry: login when the server asks for one, then a page per location hash. */
import { banner, fill, h } from './dom.js';
import { apiGet, apiPost, loginNeeded } from './http.js';
import { feedPage, serverPage, sessionsPage, watchesPage } from './pages.js';
import { treePage } from './tree.js';

interface Info {
  requireLogin: boolean;
  user: string | null;
  mode: string;
}

let leavePage: () => void = () => undefined;

function route(): { page: string; params: URLSearchParams } {
  const hash = location.hash.replace(/^#\/?/, '');
  const q = hash.indexOf('?');
  return { page: (q === -1 ? hash : hash.slice(0, q)) || 'tree', params: new URLSearchParams(q === -1 ? '' : hash.slice(q + 1)) };
}

function go(page: string, params: Record<string, string> = {}): void {
  const query = new URLSearchParams(params).toString();
  location.hash = `#/${page}${query ? `?${query}` : ''}`;
}

function show(): void {
  leavePage();
  leavePage = () => undefined;
  const main = document.getElementById('main')!;
  const { page, params } = route();
  document.querySelectorAll('#nav a').forEach((a) => a.classList.toggle('active', a.getAttribute('data-page') === page));
  document.title = `Paddock · ${page}`;
  switch (page) {
    case 'tree':
      return treePage(main, params.get('path') || '/', (path) => go('tree', { path }));
    case 'sessions':
      return void sessionsPage(main);
    case 'watches':
      return void watchesPage(main);
    case 'feed':
      leavePage = feedPage(main, params.get('path') || '/');
      return;
    case 'server':
      leavePage = serverPage(main);
      return;
    default:
      fill(main, banner('error', `no page ${page}`));
  }
}

function showWho(info: Info): void {
  const who = document.getElementById('who')!;
  const mode = h('span', { 'data-testid': 'mode' }, info.mode);
  if (info.user === null) return fill(who, mode);
  const logout = h('button', { onclick: () => void apiPost('logout', {}).finally(() => location.reload()) }, 'Log out');
  fill(who, mode, ' · ', h('span', { 'data-testid': 'user' }, info.user), logout);
}

function loginForm(): void {
  leavePage();
  const main = document.getElementById('main')!;
  const user = h('input', { id: 'login-user', autocomplete: 'username', 'data-testid': 'login-user' });
  const password = h('input', { id: 'login-password', type: 'password', autocomplete: 'current-password', 'data-testid': 'login-password' });
  const messages = h('div');
  const form = h(
    'form',
    { class: 'panel login' },
    h('h2', {}, 'Log in'),
    h('p', { class: 'muted' }, 'A digest identity (as addauth digest user:password) named in the ACL of /.'),
    h('label', { for: 'login-user' }, 'User'),
    user,
    h('label', { for: 'login-password' }, 'Password'),
    password,
    messages,
    h('div', { class: 'toolbar' }, h('button', { class: 'primary', type: 'submit', 'data-testid': 'login-submit' }, 'Log in')),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await apiPost('login', { user: user.value, password: password.value });
      await start();
    } catch (err) {
      fill(messages, banner('error', (err as Error).message));
    }
  });
  fill(main, form);
}

async function start(): Promise<void> {
  const info = await apiGet<Info>('info');
  showWho(info);
  if (info.requireLogin && info.user === null) return loginForm();
  show();
}

window.addEventListener('hashchange', show);
loginNeeded.addEventListener('login', loginForm);
void start().catch((err: Error) => fill(document.getElementById('main')!, banner('error', err.message)));
