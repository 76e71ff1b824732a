//! Two-factor authentication UI shared by the login page (second step, and enrolment when the
//! group requires it) and the password page (enrolling or turning it off by choice): the QR
//! code of a new secret, the code that proves it, and the recovery codes, shown once.
//!
//! The QR code is the server's SVG shown through an `<img>` data URL, so nothing the server
//! sends is parsed as HTML in the page.

import { api, errorMessage } from './api.js';
import { base64Utf8, h, showError } from './dom.js';
import { t } from './i18n.js';

/**
 * Shows the enrolment steps inside `root`: asks the server for a new secret (`password`
 * when logged in), shows it, and sends the code the user types. Resolves with the server's
 * answer once MFA is on (recovery codes; a session when this finished a login).
 * @param {HTMLElement} root
 * @param {string | undefined} password
 * @returns {Promise<import('./api.js').MfaEnabled>}
 */
export async function enrol(root, password) {
  /** @type {import('./api.js').MfaSetup} */
  const setup = await api('POST', '/api/auth/mfa/setup', password === undefined ? {} : { password }, {
    noRedirect: true,
  });
  const code = h('input', {
    id: 'mfa-enroll-code',
    type: 'text',
    inputMode: 'numeric',
    autocomplete: 'one-time-code',
    required: true,
    maxLength: 12,
    attrs: { 'aria-describedby': 'mfa-enroll-help' },
  });
  const error = h('p', { className: 'error', attrs: { role: 'alert' }, hidden: true });
  const submit = h('button', { type: 'submit', className: 'primary', i18n: 'mfa.enable' });
  const form = h(
    'form',
    { className: 'stack' },
    h(
      'div',
      { className: 'field' },
      h('label', { attrs: { for: 'mfa-enroll-code' }, i18n: 'mfa.code' }),
      code,
    ),
    error,
    h('div', { className: 'buttons' }, submit),
  );
  root.replaceChildren(
    h('p', { id: 'mfa-enroll-help', i18n: 'mfa.enroll_intro' }),
    h('img', {
      className: 'qr',
      alt: t('mfa.qr_alt'),
      src: `data:image/svg+xml;base64,${base64Utf8(setup.qr_svg)}`,
      width: 220,
      height: 220,
      attrs: { 'data-testid': 'mfa-qr' },
    }),
    h(
      'p',
      {},
      h('span', { i18n: 'mfa.secret' }),
      ' ',
      h('code', { className: 'mono', text: setup.secret, attrs: { 'data-testid': 'mfa-secret' } }),
    ),
    form,
  );
  root.hidden = false;
  code.focus();
  return new Promise((resolve) => {
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      submit.disabled = true;
      showError(error, null);
      try {
        /** @type {import('./api.js').MfaEnabled} */
        const enabled = await api('POST', '/api/auth/mfa/enable', { code: code.value.trim() }, { noRedirect: true });
        resolve(enabled);
      } catch (failure) {
        showError(error, errorMessage(failure));
        code.value = '';
        code.focus();
        submit.disabled = false;
      }
    });
  });
}

/**
 * Shows the recovery codes in `root` with a button that resolves when the user has kept them.
 * @param {HTMLElement} root
 * @param {string[]} codes
 * @returns {Promise<void>}
 */
export function showRecoveryCodes(root, codes) {
  const done = h('button', { type: 'button', className: 'primary', i18n: 'mfa.continue' });
  root.replaceChildren(
    h('p', { i18n: 'mfa.recovery_intro' }),
    h(
      'ul',
      { className: 'mono recovery-codes', attrs: { 'data-testid': 'mfa-recovery-codes' } },
      ...codes.map((c) => h('li', { text: c })),
    ),
    h('div', { className: 'buttons' }, done),
  );
  root.hidden = false;
  done.focus();
  return new Promise((resolve) => done.addEventListener('click', () => resolve(), { once: true }));
}
