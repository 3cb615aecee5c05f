// The sign-in form: a bearer token (from the gateway's tokens file or its admin-token file), tried
// against the API before it is kept; the field is cleared as soon as it has been read.
import { el } from '../dom.js';
import { Notice } from '../notice.js';
import { ApiError } from '../redfish-error.js';
import type { GatewayApi } from './gateway-api.js';

function signInFailure(err: unknown): string {
  if (err instanceof ApiError && err.status === 401) return 'The token is not valid.';
  if (err instanceof ApiError && err.status === 429) return 'Too many failed attempts: try again later.';
  return `Sign-in failed: ${(err as Error).message}`;
}

export function signInView(api: GatewayApi, signedIn: () => void, message?: string): HTMLElement {
  const token = el('input', {
    id: 'sign-in-token',
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
  });
  const submit = el('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const notice = new Notice();
  if (message) notice.show('info', message);
  const form = el(
    'form',
    { class: 'login', 'aria-labelledby': 'sign-in-title' },
    el('h2', { id: 'sign-in-title' }, 'Sign in to the gateway'),
    el('label', { for: 'sign-in-token' }, 'Bearer token'),
    token,
    submit,
    notice.root,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const secret = token.value.trim();
    token.value = '';
    submit.disabled = true;
    notice.show('info', 'Signing in…');
    api
      .signIn(secret)
      .then(signedIn, (err: unknown) => {
        notice.show('error', signInFailure(err));
        token.focus();
      })
      .finally(() => {
        submit.disabled = false;
      });
  });
  setTimeout(() => token.focus(), 0); // once the caller has attached it
  return form;
}
