// The page: log in, then the slot list. Entry point of app.js.
import { Api } from './api.js';
import { el } from './dom.js';
import { loginView } from './login-view.js';
import { ApiError } from './redfish-error.js';
import { SlotsView } from './slots-view.js';

const main = document.getElementById('main')!;
const account = document.getElementById('account')!;
const api = new Api();
let view: SlotsView | undefined;
/** The login form shown above a view whose session ended while it serves files. */
let relogin: HTMLElement | undefined;

function notice(kind: 'info' | 'error', text: string): HTMLElement {
  return el('p', { class: `notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

function showLogin(message?: string): void {
  view?.stopAll();
  view?.dispose();
  view = undefined;
  relogin = undefined;
  account.replaceChildren();
  main.replaceChildren(loginView(api, () => void showSlots()));
  if (message) main.prepend(notice('info', message));
}

async function showSlots(): Promise<void> {
  const slots = new SlotsView(api);
  try {
    await slots.start();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return showLogin();
    main.replaceChildren(notice('error', `Could not read the slots: ${(err as Error).message}`));
    return;
  }
  view = slots;
  const logout = el('button', { type: 'button' }, 'Log out');
  logout.addEventListener('click', () => {
    if (view?.serving && !confirm('Log out? The files this page serves are stopped and their media ejected.')) return;
    view?.stopAll();
    void api
      .logout()
      .catch(() => undefined)
      .then(() => showLogin('Logged out.'));
  });
  account.replaceChildren(logout);
  main.replaceChildren(slots.root);
}

/** The session expired or was deleted elsewhere. */
function sessionEnded(): void {
  const current = view;
  if (!current) return;
  if (!current.serving) return showLogin('Your session has ended; please log in again.');
  // The WebSockets do not depend on the session: keep serving, and log in again above them.
  if (relogin) return;
  current.dispose();
  const form = loginView(api, () => {
    relogin?.remove();
    relogin = undefined;
    void current.start().catch(() => current.refresh());
  });
  relogin = el(
    'div',
    { class: 'relogin' },
    notice('info', 'Your session has ended. The files below are still being served; log in again to manage the slots.'),
    form,
  );
  main.prepend(relogin);
}

api.onUnauthorized = sessionEnded;

// Leaving the page closes the WebSockets, which ejects the media this page serves: ask first.
window.addEventListener('beforeunload', (ev) => {
  if (view?.serving) ev.preventDefault();
});

void showSlots();
