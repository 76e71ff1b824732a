//! Change one's own password. Also the page users are forced to after their first login or an
//! administrator's reset (`must_change_password`), which is explained at the top. Below it, the
//! account's two-factor authentication: set up (QR code, code, recovery codes) or turn off.

import { ApiError, api, detailMessages, errorMessage, fetchMe, homeFor } from './api.js';
import { onLangChange, t } from './i18n.js';
import { byId, showError, showStatus } from './dom.js';
import { initPage } from './layout.js';
import { enrol, showRecoveryCodes } from './mfa.js';

const form = /** @type {HTMLFormElement} */ (byId('password-form'));
const username = /** @type {HTMLInputElement} */ (byId('password-username'));
const current = /** @type {HTMLInputElement} */ (byId('current-password'));
const next = /** @type {HTMLInputElement} */ (byId('new-password'));
const confirm = /** @type {HTMLInputElement} */ (byId('confirm-password'));
const submit = /** @type {HTMLButtonElement} */ (byId('password-submit'));
const errorBox = byId('password-error');
const statusBox = byId('password-status');
const forced = byId('password-forced');

/** @type {{key?: string, error?: unknown} | null} */
let shown = null;

function renderError() {
  if (!shown) showError(errorBox, null);
  else if (shown.key) showError(errorBox, t(shown.key));
  else {
    const error = shown.error;
    showError(errorBox, errorMessage(error), error instanceof ApiError ? detailMessages(error) : []);
  }
}
onLangChange(renderError);

const session = await initPage({ passwordPage: true });
username.value = session.user.login_id;
forced.hidden = !session.must_change_password;

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  shown = null;
  renderError();
  showStatus(statusBox, null);
  if (next.value !== confirm.value) {
    shown = { key: 'password.mismatch' };
    renderError();
    confirm.focus();
    return;
  }
  submit.disabled = true;
  try {
    await api('POST', '/api/auth/password', {
      current_password: current.value,
      new_password: next.value,
    });
    showStatus(statusBox, t('password.changed'));
    // The session may carry a new CSRF token and no longer requires a change.
    const fresh = await fetchMe();
    location.assign(homeFor(fresh.user.role));
  } catch (error) {
    shown = { error };
    renderError();
    submit.disabled = false;
  }
});

const mfaSection = byId('mfa-section');
const mfaState = byId('mfa-state');
const mfaPassword = /** @type {HTMLInputElement} */ (byId('mfa-password'));
const mfaError = byId('mfa-page-error');
const mfaSetup = /** @type {HTMLButtonElement} */ (byId('mfa-setup'));
const mfaDisable = /** @type {HTMLButtonElement} */ (byId('mfa-disable'));
const mfaEnrol = byId('mfa-enroll');
let mfaOn = Boolean(session.user.mfa_enabled);

function renderMfa() {
  mfaState.textContent = t(mfaOn ? 'mfa.state_on' : 'mfa.state_off');
  mfaSetup.hidden = mfaOn;
  mfaDisable.hidden = !mfaOn;
}
onLangChange(renderMfa);
mfaSection.hidden = session.must_change_password;
renderMfa();

mfaSetup.addEventListener('click', async () => {
  showError(mfaError, null);
  mfaSetup.disabled = true;
  try {
    const enabled = await enrol(mfaEnrol, mfaPassword.value);
    mfaPassword.value = '';
    await showRecoveryCodes(mfaEnrol, enabled.recovery_codes);
    mfaEnrol.hidden = true;
    mfaOn = true;
    renderMfa();
  } catch (error) {
    showError(mfaError, errorMessage(error));
  }
  mfaSetup.disabled = false;
});

mfaDisable.addEventListener('click', async () => {
  showError(mfaError, null);
  try {
    await api('POST', '/api/auth/mfa/disable', { password: mfaPassword.value });
    mfaPassword.value = '';
    mfaOn = false;
    renderMfa();
    showStatus(statusBox, t('mfa.disabled'));
  } catch (error) {
    showError(mfaError, errorMessage(error));
  }
});
