//! The login page: posts JSON to /api/auth/login and goes to the role's home, or to /password when
//! a change is required. The form also works without JavaScript (the server redirects and reports
//! `?error=login_failed`). With two-factor authentication the password step is followed by a
//! code (or, when the group requires MFA and the account has none, by enrolment); a form post
//! without JavaScript lands on `?step=mfa`, which continues here.

import { api, errorMessage, homeFor, login, setCsrfToken } from './api.js';
import { enrol, showRecoveryCodes } from './mfa.js';
import { onLangChange, t } from './i18n.js';
import { byId, showError } from './dom.js';
import { initPublicPage } from './layout.js';

const form = /** @type {HTMLFormElement} */ (byId('login-form'));
const loginId = /** @type {HTMLInputElement} */ (byId('login-id'));
const password = /** @type {HTMLInputElement} */ (byId('login-password'));
const submit = /** @type {HTMLButtonElement} */ (byId('login-submit'));
const errorBox = byId('login-error');
const mfaForm = /** @type {HTMLFormElement} */ (byId('mfa-form'));
const mfaCode = /** @type {HTMLInputElement} */ (byId('mfa-code'));
const mfaSubmit = /** @type {HTMLButtonElement} */ (byId('mfa-submit'));
const mfaError = byId('mfa-error');
const enrolBox = byId('mfa-enroll');

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
    const answer = await login(loginId.value.trim(), password.value);
    if ('second_factor' in answer) await secondStep(answer);
    else enter(answer);
  } catch (error) {
    shown = { error };
    renderError();
    password.value = '';
    password.focus();
    submit.disabled = false;
  }
});

/** @param {import('./api.js').Session} session */
function enter(session) {
  setCsrfToken(session.csrf_token);
  location.assign(session.must_change_password ? '/password' : homeFor(session.user.role));
}

/**
 * After a right password: the code, or enrolment first.
 * @param {import('./api.js').MfaPending} pending
 */
async function secondStep(pending) {
  setCsrfToken(pending.csrf_token);
  form.hidden = true;
  if (pending.second_factor === 'verify') {
    mfaForm.hidden = false;
    mfaCode.focus();
    return;
  }
  try {
    const enabled = await enrol(enrolBox, undefined);
    await showRecoveryCodes(enrolBox, enabled.recovery_codes);
    if (enabled.session) enter(enabled.session);
  } catch (error) {
    showError(mfaError, errorMessage(error));
    mfaForm.hidden = false;
  }
}

mfaForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  mfaSubmit.disabled = true;
  showError(mfaError, null);
  try {
    /** @type {import('./api.js').Session} */
    const session = await api('POST', '/api/auth/mfa/verify', { code: mfaCode.value.trim() }, { noRedirect: true });
    enter(session);
  } catch (error) {
    // An expired or used-up pending login: start again from the password.
    const code = /** @type {any} */ (error).code;
    if (code === 'not_authenticated' || code === 'login_failed') {
      mfaForm.hidden = true;
      form.hidden = false;
      submit.disabled = false;
      password.value = '';
      shown = { error };
      renderError();
      password.focus();
    } else {
      showError(mfaError, errorMessage(error));
      mfaCode.value = '';
      mfaCode.focus();
    }
    mfaSubmit.disabled = false;
  }
});

// The group name for SSO is remembered on this browser (it is not a secret).
const ssoForm = /** @type {HTMLFormElement} */ (byId('sso-form'));
const ssoGroup = /** @type {HTMLInputElement} */ (byId('sso-group'));
ssoGroup.value = localStorage.getItem('ra.sso_group') || '';
ssoForm.addEventListener('submit', (event) => {
  // A navigation rather than the form's own submission: the page's CSP (`form-action 'self'`)
  // would stop a form submission that is redirected on to the provider.
  event.preventDefault();
  const group = ssoGroup.value.trim();
  localStorage.setItem('ra.sso_group', group);
  location.assign(`/api/auth/sso/start?group=${encodeURIComponent(group)}`);
});

const params = new URLSearchParams(location.search);
const redirectedError = params.get('error');
if (redirectedError === 'login_failed' || redirectedError === 'sso_failed' || redirectedError === 'sso_required') {
  shown = { key: `error.${redirectedError}` };
  renderError();
}

await initPublicPage();
loginId.focus();
if (params.get('step') === 'mfa') {
  api('GET', '/api/auth/mfa', undefined, { noRedirect: true }).then(
    (/** @type {import('./api.js').MfaPending} */ pending) => void secondStep(pending),
    // No pending login any more: the password form is right.
    () => {},
  );
}
