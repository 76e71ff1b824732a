//! The login page: posts JSON to /api/auth/login and goes to the role's home, or to /password when
//! a change is required. The form also works without JavaScript (the server redirects and reports
//! `?error=login_failed`).

import { errorMessage, homeFor, login } from './api.js';
import { onLangChange, t } from './i18n.js';
import { byId, showError } from './dom.js';
import { initPublicPage } from './layout.js';

const form = /** @type {HTMLFormElement} */ (byId('login-form'));
const loginId = /** @type {HTMLInputElement} */ (byId('login-id'));
const password = /** @type {HTMLInputElement} */ (byId('login-password'));
const submit = /** @type {HTMLButtonElement} */ (byId('login-submit'));
const errorBox = byId('login-error');

/** The error shown now, re-rendered on language change: a catalogue key or a thrown error. */
let shown = /** @type {{key?: string, error?: unknown} | null} */ (null);

function renderError() {
  if (!shown) showError(errorBox, null);
  else showError(errorBox, shown.key ? t(shown.key) : errorMessage(shown.error));
}

onLangChange(renderError);

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  submit.disabled = true;
  shown = null;
  renderError();
  try {
    const session = await login(loginId.value.trim(), password.value);
    location.assign(session.must_change_password ? '/password' : homeFor(session.user.role));
  } catch (error) {
    shown = { error };
    renderError();
    password.value = '';
    password.focus();
    submit.disabled = false;
  }
});

const params = new URLSearchParams(location.search);
if (params.get('error') === 'login_failed') {
  shown = { key: 'error.login_failed' };
  renderError();
}

await initPublicPage();
loginId.focus();
