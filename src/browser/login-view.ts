// The login form: POST /login with the user name and password in the JSON body (the only place
// the password goes), cleared from the field as soon as it has been read.
import type { Api } from './api.js';
import { el } from './dom.js';
import { Notice } from './notice.js';
import { ApiError } from './redfish-error.js';

function loginFailure(err: unknown): { text: string; detail?: string } {
  if (!(err instanceof ApiError)) return { text: String(err) };
  if (err.status === 401) return { text: 'Wrong user name or password.' };
  if (err.status === 429) {
    const wait = err.retryAfter !== undefined ? ` Try again in ${err.retryAfter} seconds.` : ' Try again later.';
    return { text: `Too many failed logins.${wait}` };
  }
  return { text: `Login failed: ${err.message}`, detail: err.resolution };
}

export function loginView(api: Api, loggedIn: () => void): HTMLElement {
  const user = el('input', {
    id: 'login-user',
    name: 'username',
    autocomplete: 'username',
    required: true,
    autocapitalize: 'none',
    spellcheck: 'false',
    value: api.lastUser || undefined,
  });
  const password = el('input', {
    id: 'login-password',
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const submit = el('button', { type: 'submit', class: 'primary' }, 'Log in');
  const notice = new Notice();
  const form = el(
    'form',
    { class: 'login', 'aria-labelledby': 'login-title' },
    el('h2', { id: 'login-title' }, 'Log in to the BMC'),
    el('label', { for: 'login-user' }, 'User name'),
    user,
    el('label', { for: 'login-password' }, 'Password'),
    password,
    submit,
    notice.root,
  );

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const secret = password.value;
    password.value = '';
    submit.disabled = true;
    notice.show('info', 'Logging in…');
    api
      .login(user.value, secret)
      .then(loggedIn, (err: unknown) => {
        const { text, detail } = loginFailure(err);
        notice.show('error', text, detail);
        password.focus();
      })
      .finally(() => {
        submit.disabled = false;
      });
  });
  setTimeout(() => (user.value ? password : user).focus(), 0); // once the caller has attached it
  return form;
}
