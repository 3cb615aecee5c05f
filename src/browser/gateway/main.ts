// The gateway's page: sign in with a bearer token, then the console. Entry point of app.js.
import { el } from '../dom.js';
import { ApiError } from '../redfish-error.js';
import { ConsoleView } from './console-view.js';
import { GatewayApi } from './gateway-api.js';
import { signInView } from './sign-in-view.js';

const main = document.getElementById('main')!;
const account = document.getElementById('account')!;
const api = new GatewayApi();
let view: ConsoleView | undefined;

function showSignIn(message?: string): void {
  view?.dispose();
  view = undefined;
  api.signOut();
  account.replaceChildren();
  main.replaceChildren(signInView(api, () => void showConsole(), message));
}

async function showConsole(): Promise<void> {
  const next = new ConsoleView(api);
  try {
    await next.start();
  } catch (err) {
    next.dispose();
    // a 401 has already brought the sign-in form back (api.onUnauthorized)
    if (err instanceof ApiError && err.status === 401) return;
    main.replaceChildren(
      el('p', { class: 'notice-error', role: 'alert' }, `Could not read the gateway: ${(err as Error).message}`),
    );
    return;
  }
  view = next;
  const signOut = el('button', { type: 'button' }, 'Sign out');
  signOut.addEventListener('click', () => showSignIn('Signed out.'));
  account.replaceChildren(signOut);
  main.replaceChildren(next.root);
}

api.onUnauthorized = () => showSignIn('The token is no longer valid: sign in again.');

if (api.signedIn) void showConsole();
else showSignIn();
