/** The sign-in screen: name, password and, where the role needs one, a one-time code. */
import { h } from './dom.js';
import { api } from './session.js';

export function loginPage(): void {
  const error = h('p', { class: 'error', role: 'alert', id: 'login-error' });
  const name = h('input', { id: 'name', name: 'name', autocomplete: 'username', required: true, autocapitalize: 'off' });
  const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const code = h('input', { id: 'code', name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 8, placeholder: 'if your role needs one' });
  const button = h('button', { type: 'submit', class: 'big' }, 'Sign in');
  const form = h(
    'form',
    {
      class: 'login',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        error.textContent = '';
        button.disabled = true;
        try {
          const r = await api<{ home: string }>('POST', '/api/login', { name: name.value, password: password.value, ...(code.value ? { code: code.value } : {}) });
          location.assign(r.home);
        } catch (err) {
          error.textContent = (err as Error).message;
          password.value = '';
          code.value = '';
          button.disabled = false;
        }
      },
    },
    h('h1', {}, 'alpr-edge'),
    h('label', { for: 'name' }, 'User name'),
    name,
    h('label', { for: 'password' }, 'Password'),
    password,
    h('label', { for: 'code' }, 'One-time code'),
    code,
    button,
    error,
    h('p', { class: 'hint' }, 'Every sign-in, and every look at stored data, is recorded in the access log.'),
  );
  document.body.append(h('main', { class: 'center' }, form));
  name.focus();
}
