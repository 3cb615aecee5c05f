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

function showLogin(message?: string): void {
  view?.stopAll();
  view?.dispose();
  view = undefined;
  account.replaceChildren();
  main.replaceChildren(loginView(api, () => void showSlots()));
  if (message) main.prepend(el('p', { class: 'notice-info', role: 'status' }, message));
}

async function showSlots(): Promise<void> {
  const slots = new SlotsView(api);
  try {
    await slots.start();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return showLogin();
    main.replaceChildren(el('p', { class: 'notice-error', role: 'alert' }, `Could not read the slots: ${(err as Error).message}`));
    return;
  }
  view = slots;
  const logout = el('button', { type: 'button' }, 'Log out');
  logout.addEventListener('click', () => {
    view?.stopAll(); // closing the WebSockets ejects what this page serves
    void api.logout().catch(() => undefined).then(() => showLogin('Logged out.'));
  });
  account.replaceChildren(logout);
  main.replaceChildren(slots.root);
}

api.onUnauthorized = () => { if (view) showLogin('Your session has ended; please log in again.'); };

// Leaving the page closes the WebSockets, which ejects the media this page serves: ask first.
window.addEventListener('beforeunload', (ev) => {
  if (view?.serving) ev.preventDefault();
});

void showSlots();
